"""Defence in depth where bytes leave the server: a tree that names content the repo never proved
it holds (left by an older version, or a bug) serves none of it, through any exit: Xet
reconstructions, pull request diffs, previews, license and card texts. And the Xet way in:
pointer text uploaded as Xet content is that text, never a reference to other content."""

import hashlib
import os

import pytest
from django.test import Client

from community import diffs
from community import services as community_services
from core.errors import ContentQuarantined
from gating.policy import ANONYMOUS
from licenses.selectors import card_license_at
from registry import services
from registry.git import gitobjects
from registry.models import Commit, Ref, RepoObject
from registry.ops.fsck import fsck
from registry.selectors import card_summary_at, find_file, resolve_revision
from tests.support.builders import commit_files, make_repo, token_for
from tests.xet.conftest import cas, commit_xet_file  # noqa: F401 (a fixture)
from workers.loading import model_plan
from workers.runner import files as preview_files
from xet import tokens

pytestmark = pytest.mark.django_db

LICENSE = b"Secret license terms of the gated model.\n"
CARD = b"---\nlicense: other\nlicense_name: secret\nlicense_link: LICENSE\n---\n# Gated\n"
INDEX = b'{"_class_name": "StableDiffusionPipeline"}'


@pytest.fixture
def victim(alice, cas):  # noqa: F811
    repo = make_repo(
        alice,
        "gated",
        {"README.md": CARD, "LICENSE": LICENSE, "model_index.json": INDEX, "config.json": b'{"secret": 1}'},
    )
    file_hash, sha256 = cas.upload(repo, alice, os.urandom(200_000))
    commit_xet_file(repo, alice, "model.safetensors", sha256)
    services.repo_settings_update(repo=repo, gated="manual")
    repo.xet_file_hash = file_hash
    return repo


@pytest.fixture
def aliased(victim, bob):
    """bob's public repo whose main names the victim's tree, as the old code path let it."""
    mine = make_repo(bob, "mine")
    head = Commit.objects.get(repo=mine, oid=Ref.objects.get(repo=mine, name="refs/heads/main").commit_oid)
    tree_oid = resolve_revision(victim, "main").tree_oid
    Commit.objects.create(
        repo=mine,
        oid=aliased_commit_oid(tree_oid),
        tree_oid=tree_oid,
        parent_oids=[head.oid],
        author=bob,
        author_name="bob",
        title="aliased",
        message="aliased",
        created_at=head.created_at,
        raw=b"",
    )
    Ref.objects.filter(repo=mine, name="refs/heads/main").update(commit_oid=aliased_commit_oid(tree_oid))
    return mine, tree_oid


def aliased_commit_oid(tree_oid: str) -> str:
    """A commit id that, like a real one, is derived from its tree: the process caches commit ->
    tree per (repo pk, commit id), and on SQLite a rolled-back test's repo pk comes back."""
    return hashlib.sha256(f"aliased {tree_oid}".encode()).hexdigest()[:40]


def test_xet_reconstruction_of_unproven_content_is_quarantined(cas, victim, aliased, bob):  # noqa: F811
    mine, tree_oid = aliased
    refused = cas.token(mine.repo_id, token_for(bob), scope="read")  # its card is quarantined too
    assert refused.status_code == 410 and refused["X-Error-Code"] == "ContentQuarantined"
    revision = aliased_commit_oid(tree_oid)
    token, _ = tokens.mint(scope=tokens.READ, repo_pk=mine.pk, revision=revision, principal=ANONYMOUS)
    plan = cas.reconstruction(token, victim.xet_file_hash)
    assert plan.status_code == 410 and plan["X-Error-Code"] == "ContentQuarantined"
    assert b"fetch_info" not in plan.content


def test_pull_request_diff_names_quarantined_files_without_their_content(aliased):
    mine, tree_oid = aliased
    text = diffs.unified_diff(None, tree_oid, repo_pk=mine.pk, may_read=lambda path: True)
    assert "diff --git a/LICENSE b/LICENSE\n# Content quarantined" in text
    assert "Secret license" not in text and '"secret": 1' not in text
    # the LFS pointer lines are metadata the tree already shows; the bytes are not in the diff
    assert "# Content quarantined" in text.split("a/README.md")[1]


def test_previews_refuse_a_quarantined_pipeline(aliased, victim):
    mine, tree_oid = aliased
    with pytest.raises(preview_files.UnsupportedModel, match="quarantined"):
        model_plan(mine.pk, tree_oid)
    # cached per (repo, tree): the victim's own answer is its own
    try:
        model_plan(victim.pk, tree_oid)
    except preview_files.UnsupportedModel as exc:
        assert "quarantined" not in str(exc)


def test_license_and_card_texts_are_not_read_from_unproven_content(aliased, victim, client):
    mine, tree_oid = aliased
    with pytest.raises(ContentQuarantined):
        card_summary_at(mine.pk, tree_oid)
    with pytest.raises(ContentQuarantined):
        card_license_at(mine.pk, tree_oid)
    response = Client().get(f"/api/models/{mine.repo_id}/license")
    assert b"Secret license" not in response.content
    assert response.status_code == 410 and response["X-Error-Code"] == "ContentQuarantined"
    assert card_license_at(victim.pk, tree_oid).file_text == LICENSE.decode()


def test_pointer_text_uploaded_through_xet_is_served_as_itself(cas, victim, bob):  # noqa: F811
    """The Xet way in: the bytes a shard registers are what a download returns. A pointer text
    sent as Xet content is a 130-odd-byte file of the attacker's, not the weights it names."""
    target = find_file(resolve_revision(victim, "main"), "model.safetensors")["lfs"]["sha256"]
    assert RepoObject.objects.filter(repo=victim, sha256=target).exists()
    pointer = gitobjects.lfs_pointer(target, 200_000)
    mine = make_repo(bob, "xet-copy")
    _, sha256 = cas.upload(mine, bob, pointer)
    assert sha256 == hashlib.sha256(pointer).hexdigest()
    commit_xet_file(mine, bob, "model.safetensors", sha256)
    response = Client().get("/bob/xet-copy/resolve/main/model.safetensors")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == pointer


def test_merging_a_pull_request_that_names_unproven_content_is_refused(victim, bob):
    """A pull request prepared under an older version (its ref naming the victim's tree) must not
    launder that content into the base branch: the merge would make it the repo's own."""
    mine = make_repo(bob, "merge-target", {"notes.txt": b"mine"})
    pull = community_services.pull_request_open(repo=mine, author=bob, title="legacy", description="", draft=False)
    head = Commit.objects.get(repo=mine, oid=Ref.objects.get(repo=mine, name=pull.ref_name).commit_oid)
    Commit.objects.create(
        repo=mine,
        oid="d" * 40,
        tree_oid=resolve_revision(victim, "main").tree_oid,
        parent_oids=[head.oid],
        author=bob,
        author_name="bob",
        title="legacy",
        message="legacy",
        created_at=head.created_at,
        raw=b"",
    )
    Ref.objects.filter(repo=mine, name=pull.ref_name).update(commit_oid="d" * 40)
    with pytest.raises(ContentQuarantined, match="quarantined"):
        community_services.pull_request_merge(discussion=pull, actor=bob)
    assert Client().get("/bob/merge-target/resolve/main/model.safetensors").status_code == 404
    assert not RepoObject.objects.filter(repo=mine, sha256=victim_weights_sha(victim)).exists()


def victim_weights_sha(victim) -> str:
    return find_file(resolve_revision(victim, "main"), "model.safetensors")["lfs"]["sha256"]


def test_the_owner_can_still_commit_while_the_card_and_gitattributes_are_quarantined(aliased, bob):
    """Committing reads .gitattributes (the LFS rules) and the card (repo metadata): quarantined,
    they read as absent instead of refusing every commit, so that the owner can restore them."""
    mine, _ = aliased
    commit_files(mine, {"notes.txt": b"still mine"}, author=bob)
    # Its license text is quarantined too: every download fails closed until it is restored.
    assert Client().get("/bob/mine/resolve/main/notes.txt").status_code == 410
    commit_files(mine, {"README.md": CARD, "LICENSE": LICENSE}, author=bob)  # uploaded again
    assert Client().get("/bob/mine/resolve/main/notes.txt").status_code == 200
    assert Client().get("/bob/mine/resolve/main/README.md").status_code == 200
    assert Client().get("/bob/mine/resolve/main/config.json").status_code == 410


def test_fsck_reports_unproven_content_and_repair_tells_the_writers(aliased, bob, client):
    """Content a tree names without proof, whatever left it there (not only pointer texts):
    reported, and with --repair recorded so the repo page lists the files to upload again."""
    mine, _ = aliased
    unproven = [line for line in fsck().problems if f"repo {mine.pk} names content" in line]
    assert any("(config.json)" in line for line in unproven) and all("--repair" in line for line in unproven)
    repaired = fsck(repair=True).repaired
    assert any(f"repo {mine.pk} names content" in line and "(LICENSE)" in line for line in repaired)
    assert not [line for line in fsck().problems if "without proof" in line]
    client.force_login(bob)
    response = client.get("/bob/mine")
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="quarantine-warning"' in page and "config.json" in page
