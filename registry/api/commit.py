"""Preupload and the ndjson commit endpoint."""

from __future__ import annotations

import base64
import binascii

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from core import bodies, edge, jsontext
from core.api import JSONParser
from core.errors import BadRequest, PayloadTooLarge
from core.schema import PULL_REQUEST_PARAMETERS
from gating.policy import Action, CommitTarget, check_push
from gating.repo_views import RepoAPIView
from registry import hooks, limits, services
from registry.api import schema
from registry.git import lfsrules, trees
from registry.git.paths import validate_new_path, validate_parent_commit, validate_path
from registry.selectors import gitattributes_at, gitignore_at, resolve_revision

MAX_PREUPLOAD_FILES = 1000


class PreuploadView(RepoAPIView):
    """POST /api/{type}s/{ns}/{name}/preupload/{rev}: which files go to LFS, which inline.

    The push rule is the commit's (`gating.policy.check_push`), so a caller the commit would
    refuse learns nothing here. The answer only describes paths (metadata)."""

    repo_actions = {"POST": Action.PUSH}
    parser_classes = [JSONParser]
    body_policy = bodies.LARGE

    @extend_schema(
        parameters=PULL_REQUEST_PARAMETERS,
        request=schema.PreuploadSerializer,
        responses=schema.PreuploadResultSerializer,
    )
    def post(self, request, namespace, name, revision, repo_type=None):
        target = CommitTarget.parse(revision, create_pr=edge.query_flag(request, "create_pr"))
        check_push(self.access, target)
        data = edge.json_object(request)
        files = data.get("files")
        if not isinstance(files, list) or len(files) > MAX_PREUPLOAD_FILES:
            raise BadRequest(f"'files' must be a list of at most {MAX_PREUPLOAD_FILES} entries.")
        revision = target.branch or self.repo.default_branch
        tree_oid = resolve_revision(self.repo, revision).tree_oid
        attributes = gitattributes_at(self.repo, revision)
        # The .gitignore the commit brings (the client sends it), else the one at the revision.
        ignore = data.get("gitIgnore")
        if not isinstance(ignore, str):
            ignore = gitignore_at(self.repo, revision)
        return Response({"files": [self._mode(item, tree_oid, attributes, ignore) for item in files]})

    def _mode(self, item, tree_oid: str | None, attributes: str, ignore: str) -> dict:
        if not isinstance(item, dict):
            raise BadRequest("Each file must be an object with 'path', 'sample' and 'size'.")
        path = validate_new_path(str(item.get("path", "")).lstrip("/"))
        size = edge.size_value(item.get("size"), label=f"'{path}'")
        limits.check_file_size(path=path, size=size)
        raw_sample = item.get("sample") or ""
        if not isinstance(raw_sample, str):
            raise BadRequest(f"'{path}': 'sample' must be base64.")
        try:
            sample = base64.b64decode(raw_sample, validate=True)[:512]
        except (binascii.Error, ValueError) as exc:
            raise BadRequest(f"'{path}': 'sample' must be base64.") from exc
        lfs = lfsrules.should_use_lfs(
            path=path,
            size=size,
            sample=sample,
            gitattributes=attributes,
            text_max=settings.GATEHOUSE_REGULAR_UPLOAD_MAX_BYTES,
        )
        existing = trees.find_entry(tree_oid, path) if tree_oid else None
        oid = None
        if existing and existing["type"] == "file":
            oid = existing["lfs"]["sha256"] if existing.get("lfs") else existing["oid"]
        return {
            "path": path,
            "uploadMode": "lfs" if lfs else "regular",
            "shouldIgnore": lfsrules.is_ignored(path, ignore),
            "oid": oid,
        }


class CommitView(RepoAPIView):
    """POST /api/{type}s/{ns}/{name}/commit/{rev}: an ndjson body, read line by line.

    The body is never held in memory as a whole: each inline file is decoded and written to the
    blob store as its line is read. Nothing becomes visible until the commit transaction moves
    the branch, so a bad line, a stale parent or a cut connection leaves the branch unchanged.

    Branches need write access. Pull requests (`?create_pr=1`, or a `refs/pr/N` revision) are
    decided by the community app through `registry.hooks.pull_requests`: contributors may open
    them and push to their own; `create_pr=1` opens the pull request and lands its first commit
    in one transaction and answers with `pullRequestUrl`."""

    repo_actions = {"POST": Action.PUSH}
    # Inline files, base64; lines are read one at a time, never spooled. Large files go by LFS
    # or Xet, so the body has its own, smaller limit.
    body_policy = bodies.BodyPolicy(lambda: settings.GATEHOUSE_MAX_COMMIT_BODY)

    @extend_schema(
        parameters=PULL_REQUEST_PARAMETERS, request=schema.COMMIT_BODY, responses=schema.CommitResultSerializer
    )
    def post(self, request, namespace, name, revision, repo_type=None):
        target = CommitTarget.parse(revision, create_pr=edge.query_flag(request, "create_pr"))
        # SECURITY: decided before the body is read, so a refused caller stores no content.
        rights = check_push(self.access, target)
        # SECURITY: contributors without write access add large files by their own uploads only,
        # and their inline files draw from their daily upload quota (limits.charge_contributor).
        self.contributor = None if rights.is_writer else request.user
        self.target = target
        self.attributes: str | None = None
        header, operations = self._read_operations(request)
        parent_commit = header.get("parentCommit")
        summary, description = header.get("summary") or "", header.get("description") or ""
        commit, ref_name = services.commit_push(
            repo=self.repo,
            branch=target.branch or self.repo.default_branch,
            ref_name=target.ref_name or "",
            create_pr=target.create_pr,
            operations=operations,
            summary=summary,
            description=description,
            author=request.user,
            parent_commit=parent_commit,
        )
        commit_url = request.build_absolute_uri(f"{self.repo.web_path}/commit/{commit.oid}")
        pr_url = None
        if ref_name.startswith("refs/pr/") and hooks.pull_requests is not None:
            pr_url = request.build_absolute_uri(hooks.pull_requests.url_path(repo=self.repo, ref_name=ref_name))
        return Response({"commitUrl": commit_url, "commitOid": commit.oid, "pullRequestUrl": pr_url})

    def _lines(self, request):
        stream = request.stream
        if stream is None:
            raise BadRequest("Empty commit body.")
        limit = settings.GATEHOUSE_MAX_INLINE_FILE * 4 // 3 + 64 * 1024
        while True:
            line = stream.readline(limit + 1)
            if not line:
                return
            if len(line) > limit and not line.endswith(b"\n"):
                raise PayloadTooLarge(
                    f"A line of the commit body is larger than {limit} bytes; upload large files through LFS."
                )
            if line.strip():
                yield line

    def _read_operations(self, request) -> tuple[dict, list]:
        """SECURITY: limits are checked on each line's declared size before its content is
        stored, so a refused commit creates nothing (inline files of earlier lines are at most
        unreferenced blobs for the garbage collector)."""
        header: dict | None = None
        operations: list = []
        tally = limits.CommitTally()
        for raw in self._lines(request):
            item = jsontext.loads(raw, error="The commit body must be newline-delimited JSON.")
            key, value = (item.get("key"), item.get("value")) if isinstance(item, dict) else (None, None)
            if not isinstance(value, dict):
                raise BadRequest("Each commit line must be {'key': ..., 'value': {...}}.")
            if header is None:
                if key != "header":
                    raise BadRequest("The first line of a commit must be its header.")
                header = value
                if header.get("parentCommit") is not None and not isinstance(header.get("parentCommit"), str):
                    raise BadRequest("'parentCommit' must be a commit id.")
                for field in ("summary", "description"):
                    if header.get(field) is not None and not isinstance(header[field], str):
                        raise BadRequest(f"'{field}' must be a string.")
                validate_parent_commit(header.get("parentCommit"))  # before any line is stored
                continue
            operations.append(self._operation(key, value, tally))
        if header is None:
            raise BadRequest("Empty commit body.")
        return header, operations

    def _operation(self, key: object, value: dict, tally: limits.CommitTally):
        """`key` is the line's own, any JSON value: an unknown one is a 400."""
        path = value.get("path")
        if not isinstance(path, str):
            raise BadRequest(f"'{key}' needs a 'path'.")
        path = path.lstrip("/")
        if key == "file":
            return self._inline_file(path, value, tally)
        if key == "lfsFile":
            return self._lfs_file(path, value, tally)
        if key == "deletedFile":
            tally.add(path=path)
            return services.DeleteFile(validate_path(path))
        if key == "deletedFolder":
            tally.add(path=path)
            return services.DeleteFolder(path.rstrip("/"))
        raise BadRequest(f"Unknown commit operation {key!r}.")

    def _inline_file(self, path: str, value: dict, tally: limits.CommitTally) -> services.AddFile:
        if value.get("encoding", "base64") != "base64" or not isinstance(value.get("content"), str):
            raise BadRequest(f"'{path}': inline content must be base64.")
        try:
            content = base64.b64decode(value["content"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest(f"'{path}': invalid base64 content.") from exc
        tally.add(path=path, size=len(content))
        if self.contributor is not None:
            limits.charge_contributor(user=self.contributor, amount=len(content))
        if self.attributes is None:  # read once, for the first inline file
            self.attributes = gitattributes_at(self.repo, self.target.branch or self.repo.default_branch)
        # An inline file at a path an LFS rule matches (or binary content) is stored as LFS, the
        # mode preupload would have given it; content shaped as a pointer follows the pointer rule.
        return services.blob_stage(
            repo=self.repo, path=path, content=content, gitattributes=self.attributes, proof_from=self.contributor
        )

    def _lfs_file(self, path: str, value: dict, tally: limits.CommitTally) -> services.AddFile:
        if value.get("algo", "sha256") != "sha256":
            raise BadRequest(f"'{path}': only sha256 LFS objects are supported.")
        size = value.get("size")
        if size is not None:
            size = edge.size_value(size, label=f"'{path}'")
            tally.add(path=path, size=size)  # the declared size, refused before any lookup
        staged = services.blob_stage_stored(
            repo=self.repo, path=path, sha256=str(value.get("oid", "")), size=size, proof_from=self.contributor
        )
        if size is None:
            tally.add(path=path, size=staged.size)
        return staged
