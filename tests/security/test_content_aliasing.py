"""The pointer-aliasing attack (issue: content identity was global) through every way content
comes in, the poisoning of a later honest upload, and the proof checked where bytes leave.

The attack: a gated repo's LFS file is public metadata (sha256, size). Committing its exact Git
LFS pointer text as a *regular* file gave the same git blob id, so the same tree id, and the
attacker's public repo then served the victim's tree (and bytes) with no gate.
"""

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError

from core.errors import ContentQuarantined
from registry import services
from registry.git import gitobjects, trees
from registry.models import Commit, Ref, Repo, RepoObject, Tree
from registry.selectors import resolve_revision
from registry.storage import content
from tests.support.builders import commit_files, make_repo, token_for
from tests.support.commit_api import inline_file, post_commit

pytestmark = pytest.mark.django_db

WEIGHTS = bytes(range(256)) * 40  # LFS by the default .gitattributes (*.safetensors)
CONFIG = b'{"hidden_size": 8}'


def _pointer(data: bytes) -> bytes:
    return gitobjects.lfs_pointer(hashlib.sha256(data).hexdigest(), len(data))


@pytest.fixture
def victim(alice):
    repo = make_repo(alice, "gated", {"model.safetensors": WEIGHTS, "config.json": CONFIG})
    services.repo_settings_update(repo=repo, gated="manual")
    return repo


def _commit_inline(client: Client, token: str, repo_id: str, files: dict[str, bytes], *, create_pr=False):
    operations = [inline_file(path, data) for path, data in files.items()]
    return post_commit(client, token, repo_id, operations, summary="copy", create_pr=create_pr)


def _tree_of(repo: Repo) -> str:
    return resolve_revision(repo, "main").tree_oid


def test_pointer_text_in_the_commit_api_is_refused_without_proof(victim, bob):
    mine = make_repo(bob, "mine")
    before = _tree_of(mine)
    response = _commit_inline(
        Client(), token_for(bob), "bob/mine", {"model.safetensors": _pointer(WEIGHTS), "config.json": CONFIG}
    )
    assert response.status_code == 400
    assert "'model.safetensors'" in response["X-Error-Message"]
    assert "never uploaded to this repo" in response["X-Error-Message"]
    assert _tree_of(mine) == before  # nothing committed
    assert _tree_of(mine) != _tree_of(victim)
    assert Client().get("/bob/mine/resolve/main/model.safetensors").status_code == 404


@pytest.mark.parametrize(
    "variant",
    [
        lambda text: text.replace(b"\n", b"\r\n"),
        lambda text: b"\n" + text + b"  \n",
        lambda text: text.replace(b"git-lfs.github.com", b"hawser.github.com"),
        lambda text: text.replace(b"oid ", b"ext-0-foo sha256:" + b"0" * 64 + b"\noid "),
    ],
    ids=["crlf", "whitespace", "legacy-version", "extension"],
)
def test_pointer_variants_that_git_lfs_accepts_are_references_too(victim, bob, variant):
    make_repo(bob, "mine")
    response = _commit_inline(Client(), token_for(bob), "bob/mine", {"weights.txt": variant(_pointer(WEIGHTS))})
    assert response.status_code == 400 and "'weights.txt'" in response["X-Error-Message"]


def test_pointer_text_through_the_portal_upload_form_is_refused(victim, bob, client):
    mine = make_repo(bob, "mine")
    client.force_login(bob)
    upload = SimpleUploadedFile("model.safetensors", _pointer(WEIGHTS))
    response = client.post("/bob/mine/upload/main", {"files": [upload], "summary": "copy"})
    assert response.status_code == 400
    assert b"model.safetensors" in response.content and b"never uploaded to this repo" in response.content
    assert "model.safetensors" not in dict(trees.iter_files(_tree_of(mine)))


def test_pointer_text_through_the_portal_card_editor_is_refused(victim, bob, client):
    make_repo(bob, "mine")
    client.force_login(bob)
    response = client.post("/bob/mine/edit/main/README.md", {"content": _pointer(CONFIG).decode()})
    assert response.status_code in (302, 400)
    readme = trees.find_entry(_tree_of(Repo.objects.get(name="mine")), "README.md")
    assert readme is None  # refused, so nothing was committed


def test_pointer_text_through_a_pull_request_form_is_refused(victim, bob, client):
    """A contributor of the victim's repo itself: the gated bytes are in that repo, but bob never
    uploaded them, so his pull request cannot name them (and then download them at refs/pr/N)."""
    services.repo_settings_update(repo=victim, gated="")
    client.force_login(bob)
    upload = SimpleUploadedFile("copy.txt", _pointer(WEIGHTS))
    response = client.post(
        "/alice/gated/discussions/new", {"type": "pull_request", "title": "copy", "description": "", "files": [upload]}
    )
    assert response.status_code == 400 and b"not uploaded by you" in response.content
    assert not Ref.objects.filter(repo=victim, name__startswith="refs/pr/").exists()


def test_pointer_text_in_a_pull_request_commit_is_refused(victim, bob):
    services.repo_settings_update(repo=victim, gated="")
    response = _commit_inline(Client(), token_for(bob), "alice/gated", {"copy.txt": _pointer(WEIGHTS)}, create_pr=True)
    assert response.status_code == 400 and "'copy.txt'" in response["X-Error-Message"]


def test_pointer_text_with_proof_is_an_lfs_reference(alice):
    """The owner may write a pointer to content of their own repo: it is the LFS file, as git-lfs
    reads it, and /resolve serves the content it names."""
    repo = make_repo(alice, "own", {"model.safetensors": WEIGHTS})
    response = _commit_inline(Client(), token_for(alice), "alice/own", {"copy.bin": _pointer(WEIGHTS)})
    assert response.status_code == 200, response.content
    entry = trees.find_entry(_tree_of(repo), "copy.bin")
    assert entry["lfs"]["sha256"] == hashlib.sha256(WEIGHTS).hexdigest() and entry["size"] == len(WEIGHTS)
    assert entry["oid"] == gitobjects.blob_id(_pointer(WEIGHTS))
    downloaded = Client().get("/alice/own/resolve/main/copy.bin")
    assert b"".join(downloaded.streaming_content) == WEIGHTS


def test_a_new_repo_cannot_start_with_a_pointer(alice):
    with pytest.raises(Exception, match="Git LFS pointer"):
        services.blob_stage(repo=None, path="x.txt", content=_pointer(WEIGHTS), proof_from=None)


@pytest.mark.django_db(transaction=True)
def test_attack_with_the_real_client_fails_and_honest_upload_after_it_is_served(hub, alice, bob):
    """Poisoning: the pointer text planted first used to win the shared tree row, so the victim's
    honest upload later showed a 132-byte regular file. Now the plant is refused and the honest
    upload is served byte for byte."""
    make_repo(bob, "mine")
    attacker = HfApi(token=token_for(bob))
    with pytest.raises(HfHubHTTPError) as refused:
        attacker.upload_file(path_or_fileobj=_pointer(WEIGHTS), path_in_repo="notes.txt", repo_id="bob/mine")
    assert refused.value.response.status_code == 400 and "notes.txt" in str(refused.value)

    make_repo(alice, "honest")
    owner = HfApi(token=token_for(alice))
    owner.upload_file(path_or_fileobj=WEIGHTS, path_in_repo="notes.txt", repo_id="alice/honest")
    path = hf_hub_download("alice/honest", "notes.txt", token=token_for(alice))
    with open(path, "rb") as handle:
        assert handle.read() == WEIGHTS


def test_a_stored_tree_with_other_entries_is_a_conflict_not_first_writer_wins(alice):
    repo = make_repo(alice, "m", {"a.txt": b"a"})
    oid = _tree_of(repo)
    Tree.objects.filter(oid=oid).update(entries=[])  # as if another writer had stored other entries
    trees.clear_caches()
    with pytest.raises(trees.TreeConflict):
        trees.save_trees({oid: [dict(entry) for entry in Tree.objects.get(oid=oid).entries] + [{"name": "x"}]})


def test_content_a_tree_names_without_proof_is_never_served(victim, bob, client):
    """Defence in depth: a tree row naming content the repo never had (written by an older
    version, or a bug) answers 410 ContentQuarantined wherever bytes would leave."""
    mine = make_repo(bob, "mine")
    head = Commit.objects.get(repo=mine, oid=Ref.objects.get(repo=mine, name="refs/heads/main").commit_oid)
    aliased = Commit.objects.create(
        repo=mine,
        oid="f" * 40,
        tree_oid=_tree_of(victim),
        parent_oids=[head.oid],
        author=bob,
        author_name="bob",
        title="aliased",
        message="aliased",
        created_at=head.created_at,
        raw=b"",
    )
    Ref.objects.filter(repo=mine, name="refs/heads/main").update(commit_oid=aliased.oid)
    for method in ("get", "head"):
        response = getattr(Client(), method)("/bob/mine/resolve/main/model.safetensors")
        assert response.status_code == 410 and response["X-Error-Code"] == "ContentQuarantined"
    response = Client().get("/bob/mine/resolve/main/config.json")
    assert response.status_code == 410
    # the victim's own repo still serves its files to whom the gate lets through
    services.repo_settings_update(repo=victim, gated="")
    assert Client().get("/alice/gated/resolve/main/config.json").status_code == 200
    with pytest.raises(ContentQuarantined):
        content.require_in_repo(mine.pk, hashlib.sha256(WEIGHTS).hexdigest())
    assert RepoObject.objects.filter(repo=victim, sha256=hashlib.sha256(WEIGHTS).hexdigest()).exists()


def test_commit_helper_still_commits_ordinary_files(alice):
    repo = make_repo(alice, "plain")
    commit_files(repo, {"a.txt": b"version 2 of my notes\n"}, author=alice)
    assert trees.find_entry(_tree_of(repo), "a.txt")["size"] == len(b"version 2 of my notes\n")
