"""Helpers for community tests."""

from registry import services


def push(repo, pull_request, files: dict[str, bytes | None], *, author, summary: str = "Update"):
    """Commit to a pull request's ref through the registry service, as a push would."""
    operations = [
        services.blob_stage(repo=repo, path=path, content=data, proof_from=None)
        if data is not None
        else services.DeleteFile(path)
        for path, data in files.items()
    ]
    return services.commit_create(
        repo=repo,
        branch=pull_request.ref_name,
        ref_name=pull_request.ref_name,
        operations=operations,
        summary=summary,
        author=author,
    )
