"""Behaviour matched to the Hub through the real client: abbreviated commit ids wherever a revision
is accepted (unambiguous within the repo only; a branch or tag of that name wins), the Hub's error
texts for branches, tags and a stale parent, backslash paths (422), deleting a folder named
without its trailing '/', and /api/validate-yaml's warnings and plain-text answer."""

import pytest
from django.utils import timezone
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, hf_hub_download
from huggingface_hub.errors import BadRequestError, HfHubHTTPError, RevisionNotFoundError
from huggingface_hub.repocard import ModelCard

from core.errors import BadRequest
from registry.models import Commit
from registry.selectors import resolve_revision
from tests.support.builders import make_repo, token_for
from tests.support.commit_api import post_commit


def _commit(api, repo_id, path, data):
    return api.create_commit(repo_id, operations=[CommitOperationAdd(path, data)], commit_message=path).oid


@pytest.mark.django_db(transaction=True)
def test_abbreviated_commit_ids_work_wherever_a_revision_is_accepted(hub, alice, bob):
    api = HfApi(token=token_for(alice))
    api.create_repo("alice/m")
    first = _commit(api, "alice/m", "a.txt", b"one")
    second = _commit(api, "alice/m", "a.txt", b"two")
    short = first[:7]

    assert api.model_info("alice/m", revision=short).sha == first
    assert [f.path for f in api.list_repo_tree("alice/m", revision=short)] == [".gitattributes", "a.txt"]
    assert api.get_paths_info("alice/m", ["a.txt"], revision=first[:12])[0].size == 3
    assert open(hf_hub_download("alice/m", "a.txt", revision=short), "rb").read() == b"one"  # noqa: SIM115
    api.create_tag("alice/m", tag="v1", revision=short)
    api.create_branch("alice/m", branch="old", revision=short)
    refs = api.list_repo_refs("alice/m")
    assert {t.name: t.target_commit for t in refs.tags} == {"v1": first}
    assert {b.name: b.target_commit for b in refs.branches}["old"] == first

    # A branch of the same name wins over the commit id.
    api.create_branch("alice/m", branch=second[:7], revision=first)
    assert api.model_info("alice/m", revision=second[:7]).sha == first
    # Too short, or another repo's commit: not a revision of this repo.
    with pytest.raises(RevisionNotFoundError):
        api.model_info("alice/m", revision=first[:6])
    HfApi(token=token_for(bob)).create_repo("bob/other")
    other = _commit(HfApi(token=token_for(bob)), "bob/other", "b.txt", b"b")
    with pytest.raises(RevisionNotFoundError, match=f"Invalid rev id: {other[:10]}"):
        api.model_info("alice/m", revision=other[:10])


@pytest.mark.django_db(transaction=True)
def test_an_ambiguous_short_id_is_a_400(hub, alice):
    repo = make_repo(alice, "m", {"a.txt": b"a"})
    head = resolve_revision(repo, "main")
    for last in "01":  # two commit rows sharing a prefix (real ids would need 2**28 tries)
        Commit.objects.create(
            repo=repo,
            oid="abcdef1" + last * 33,
            tree_oid=head.tree_oid,
            author_name="x",
            title="x",
            message="x",
            created_at=timezone.now(),
            raw=b"",
        )
    with pytest.raises(BadRequest, match="ambiguous"):
        resolve_revision(repo, "abcdef1")
    assert resolve_revision(repo, "abcdef10").commit_oid == "abcdef1" + "0" * 33
    with pytest.raises(BadRequestError, match="is ambiguous") as excinfo:
        HfApi(token=token_for(alice)).model_info("alice/m", revision="abcdef1")
    assert excinfo.value.response.status_code == 400


@pytest.mark.django_db(transaction=True)
def test_branch_tag_and_parent_errors_in_the_hubs_words(hub, alice):
    api = HfApi(token=token_for(alice))
    api.create_repo("alice/m")
    api.create_branch("alice/m", branch="dev")
    with pytest.raises(HfHubHTTPError, match="Reference refs/heads/dev already exists") as exists:
        api.create_branch("alice/m", branch="dev")
    assert exists.value.response.status_code == 409
    with pytest.raises(HfHubHTTPError, match="Reference refs/heads/main already exists"):
        api.create_branch("alice/m", branch="main")
    for name in ("refs/pr/5", "refs/something/random"):
        with pytest.raises(BadRequestError, match="Invalid reference for a branch"):
            api.create_branch("alice/m", branch=name)
    with pytest.raises(HfHubHTTPError, match="Cannot delete refs/heads/main"):
        api.delete_branch("alice/m", branch="main")
    api.create_tag("alice/m", tag="cool-tag")
    for name in ("missing", "cool-tag"):
        with pytest.raises(HfHubHTTPError, match=f"Invalid rev id: {name}"):
            api.delete_branch("alice/m", branch=name)
    # The revision is judged before the tag name, as on the Hub.
    with pytest.raises(RevisionNotFoundError):
        api.create_tag("alice/m", tag="invalid tag", revision="foobar")
    with pytest.raises(HfHubHTTPError) as bad_name:
        api.create_tag("alice/m", tag="invalid tag")
    assert bad_name.value.response.status_code == 400

    head = api.model_info("alice/m").sha
    _commit(api, "alice/m", "x.txt", b"x")
    with pytest.raises(HfHubHTTPError, match=r"A commit has happened since\. Please refresh and try again\.") as stale:
        api.create_commit(
            "alice/m", operations=[CommitOperationAdd("y.txt", b"y")], commit_message="y", parent_commit=head
        )
    assert stale.value.response.status_code == 412


@pytest.mark.django_db(transaction=True)
def test_backslash_paths_and_folder_deletion(hub, alice, client):
    api = HfApi(token=token_for(alice))
    api.create_repo("alice/m")
    api.upload_folder(folder_path=_folder(), repo_id="alice/m")
    response = post_commit(
        client, token_for(alice), "alice/m", [{"key": "file", "value": {"path": "a\\b.txt", "content": ""}}]
    )
    assert response.status_code == 422
    assert "backslashes are not allowed" in response.json()["error"]
    with pytest.raises(HfHubHTTPError) as preupload:
        api.upload_file(path_or_fileobj=b"x", path_in_repo="dir\\x.txt", repo_id="alice/m")
    assert preupload.value.response.status_code == 422

    # delete_file names the folder without '/': the client sends a deletedFile line for it.
    api.delete_file("nested", repo_id="alice/m")
    assert set(api.list_repo_files("alice/m")) == {".gitattributes", "top.txt", "other/y.txt"}
    api.create_commit("alice/m", operations=[CommitOperationDelete("other", is_folder=True)], commit_message="rm")
    assert set(api.list_repo_files("alice/m")) == {".gitattributes", "top.txt"}


def _folder():
    import tempfile
    from pathlib import Path

    root = Path(tempfile.mkdtemp())
    for name in ("top.txt", "nested/a.txt", "nested/sub/b.txt", "other/y.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"data")
    return root


def test_validate_yaml_reads_front_matter_after_blank_lines_and_warns_on_none(client, db):
    post = lambda content, **headers: client.post(  # noqa: E731
        "/api/validate-yaml", {"content": content, "repoType": "model"}, content_type="application/json", **headers
    )
    parsed = post("\n\n---\nlicense: [1]\n---\n# Card")
    assert parsed.status_code == 400 and "license" in parsed.json()["errors"][0]["message"]
    empty = post("# A card without metadata\n")
    assert empty.status_code == 200 and empty.json()["errors"] == []
    assert empty.json()["warnings"][0]["message"].startswith("empty or missing yaml metadata in repo card")
    assert post("---\nlicense: mit\n---\n").json() == {"errors": [], "warnings": []}
    plain = post("---\nlicense: [1]\n---\n", HTTP_ACCEPT="text/plain")
    assert plain.status_code == 400 and plain["Content-Type"].startswith("text/plain")
    assert "license" in plain.content.decode() and not plain.content.startswith(b"{")


@pytest.mark.django_db(transaction=True)
def test_model_card_validate_gets_plain_text(hub):
    """`ModelCard.validate` (push_to_hub) sends Accept: text/plain and raises ValueError(text)."""
    ModelCard("\n---\nlicense: mit\n---\n# ok").validate()
    with pytest.raises(ValueError, match="license") as excinfo:
        ModelCard("---\nlicense: [1]\n---\n# bad").validate()
    assert not str(excinfo.value).startswith("{")
