"""History and storage housekeeping (issue 16): super_squash_history, list_lfs_files,
permanently_delete_lfs_files and the storage a repo uses, through the real client; who may."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

import pytest
import requests
from huggingface_hub import CommitOperationAdd, HfApi, constants, hf_hub_download
from huggingface_hub.errors import BadRequestError, RevisionNotFoundError

from accounts.models import Role
from gating.models import AuditEvent
from registry.git import lfsrules
from registry.models import Commit, Repo, StoredObject
from registry.ops.fsck import fsck
from registry.ops.gc import collect_garbage
from tests.support.builders import OrganizationFactory, UserFactory, add_member, commit_files, make_repo, token_for
from xet.models import XetFile

pytestmark = pytest.mark.django_db

OLD = b"old weights " * 200
NEW = b"new weights " * 200


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def model(alice):
    repo = make_repo(alice, "painter", {"model.safetensors": OLD, "README.md": b"# painter\n"})
    commit_files(repo, {"notes.txt": b"second\n"}, author=alice)
    commit_files(repo, {"model.safetensors": NEW}, author=alice, summary="new weights")
    return repo


def test_super_squash_keeps_files_tags_and_pull_requests(hub, alice, model):
    api = HfApi(endpoint=hub, token=token_for(alice))
    api.create_tag("alice/painter", tag="v1")
    before = {c.commit_id for c in api.list_repo_commits("alice/painter")}
    pr = api.create_commit(
        "alice/painter", [CommitOperationAdd("fix.txt", b"fix\n")], commit_message="Fix", create_pr=True
    )
    files = sorted(api.list_repo_files("alice/painter"))

    api.super_squash_history("alice/painter", commit_message="squashed")

    commits = api.list_repo_commits("alice/painter")
    assert [c.title for c in commits] == ["squashed"] and commits[0].commit_id not in before
    assert sorted(api.list_repo_files("alice/painter")) == files
    # The tag and the pull request's ref still point into the old history, which is kept.
    assert len(api.list_repo_commits("alice/painter", revision="v1")) == 4
    assert hf_hub_download("alice/painter", "model.safetensors", revision="v1", token=False)
    assert api.file_exists("alice/painter", "fix.txt", revision=pr.pr_revision)
    assert api.get_discussion_details("alice/painter", pr.pr_num).status == "open"
    # Special refs: a pull request's ref squashes too.
    api.super_squash_history("alice/painter", branch=pr.pr_revision, commit_message="pr squashed")
    assert [c.title for c in api.list_repo_commits("alice/painter", revision=pr.pr_revision)] == ["pr squashed"]
    with pytest.raises(BadRequestError, match="Invalid reference for a branch"):
        api.super_squash_history("alice/painter", branch="v1")
    with pytest.raises(RevisionNotFoundError):
        api.super_squash_history("alice/painter", branch="nope")
    audited = AuditEvent.objects.filter(repo=model, action="repo.super_squash")
    assert audited.count() == 2 and audited.first().actor == alice
    # The open pull request still merges, on top of the squashed branch.
    api.merge_pull_request("alice/painter", pr.pr_num)
    assert [c.title for c in api.list_repo_commits("alice/painter")] == ["Fix (#1)", "squashed"]
    assert sorted(api.list_repo_files("alice/painter")) == sorted([*files, "fix.txt"])


def test_squashed_away_commits_are_gone_by_every_id(hub, alice):
    """Found by an outsider attack: a secret committed, deleted and squashed away was still served
    by its old commit id (full or short) to anyone."""
    repo = make_repo(alice, "leaky", {"README.md": b"# leaky\n"})
    leaked = commit_files(repo, {"leak.txt": b"API_KEY=hunter2\n"}, author=alice, summary="oops")
    api = HfApi(endpoint=hub, token=token_for(alice))
    api.delete_file("leak.txt", "alice/leaky", commit_message="remove the key")
    old = f"{hub}/alice/leaky/resolve/{leaked.oid}/leak.txt"
    assert requests.get(old).content == b"API_KEY=hunter2\n"  # cached in this process from here on

    api.super_squash_history("alice/leaky", commit_message="clean")

    for revision in (leaked.oid, leaked.oid[:7]):
        gone = requests.get(f"{hub}/alice/leaky/resolve/{revision}/leak.txt")
        assert (gone.status_code, gone.headers["X-Error-Code"]) == (404, "RevisionNotFound"), revision
        assert not api.revision_exists("alice/leaky", revision)
    assert Commit.objects.filter(repo=repo).count() == 1 and "leak.txt" not in api.list_repo_files("alice/leaky")


def test_list_and_permanently_delete_lfs_files(hub, alice, model, settings):
    settings.GATEHOUSE_LIST_PAGE_SIZE = 1  # two pages: the client follows the Link header
    other = make_repo(alice, "copy", {"model.safetensors": OLD})  # another repo holding the old bytes
    api = HfApi(endpoint=hub, token=token_for(alice))
    listed = {f.file_oid: f for f in api.list_lfs_files("alice/painter")}
    assert set(listed) == {sha(OLD), sha(NEW)}
    assert listed[sha(OLD)].filename == "model.safetensors" and listed[sha(OLD)].size == len(OLD)
    # `ref`: a ref whose head holds the content; the old bytes are only in history.
    assert (listed[sha(NEW)].ref, listed[sha(OLD)].ref) == ("refs/heads/main", None)
    old_revision = next(c.commit_id for c in api.list_repo_commits("alice/painter") if c.title == "add files")

    api.permanently_delete_lfs_files("alice/painter", [listed[sha(OLD)]])

    assert [f.file_oid for f in api.list_lfs_files("alice/painter")] == [sha(NEW)]
    # No revision of this repo serves it any more; the other repo still does.
    gone = requests.get(f"{hub}/alice/painter/resolve/{old_revision}/model.safetensors")
    assert (gone.status_code, gone.headers["X-Error-Code"]) == (410, "ContentQuarantined")
    assert requests.get(f"{hub}/alice/copy/resolve/main/model.safetensors").content == OLD
    # Nor may a commit name it again by hash: the bytes must be uploaded anew.
    refused = requests.post(
        f"{hub}/api/models/alice/painter/commit/main",
        data=(
            '{"key":"header","value":{"summary":"back"}}\n'
            f'{{"key":"lfsFile","value":{{"path":"again.safetensors","algo":"sha256","oid":"{sha(OLD)}","size":{len(OLD)}}}}}\n'
        ),
        headers={"Authorization": f"Bearer {token_for(alice)}", "Content-Type": "application/x-ndjson"},
    )
    assert refused.status_code == 400, refused.text
    audited = AuditEvent.objects.get(repo=model, action="repo.lfs_files_delete")
    assert audited.data["sha256"] == [sha(OLD)]

    # The bytes stay while another repo holds them, and go once none does.
    assert collect_garbage(grace=timedelta(0)).deleted_objects == 0
    assert StoredObject.objects.filter(sha256=sha(OLD)).exists()
    Repo.objects.filter(pk=other.pk).delete()
    collect_garbage(grace=timedelta(0))
    assert not StoredObject.objects.filter(sha256=sha(OLD)).exists()
    assert StoredObject.objects.filter(sha256=sha(NEW)).exists()
    assert fsck().problems == []
    # Uploading the bytes again brings the file back at every revision.
    api.upload_file(repo_id="alice/painter", path_in_repo="restored.safetensors", path_or_fileobj=OLD)
    assert requests.get(f"{hub}/alice/painter/resolve/{old_revision}/model.safetensors").content == OLD


def test_unknown_or_malformed_deletions_are_refused_and_nothing_is_deleted(client, alice, model):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_for(alice)}"}
    url = "/api/models/alice/painter/lfs-files/batch"
    for body in ({}, {"deletions": {"sha": "x"}}, {"deletions": {"sha": ["A" * 64]}}, {"deletions": {"sha": []}}):
        assert client.post(url, body, content_type="application/json", **headers).status_code == 400
    body = {"deletions": {"sha": [sha(NEW), "0" * 64], "rewriteHistory": True}}
    response = client.post(url, body, content_type="application/json", **headers)
    assert (response.status_code, response["X-Error-Code"]) == (404, "EntryNotFound")
    assert client.get("/alice/painter/resolve/main/model.safetensors").status_code == 200


def test_storage_usage_is_in_the_settings(client, alice, model):
    StoredObject.objects.filter(sha256=sha(NEW)).update(xet_hash="ab" * 32)  # as if uploaded through Xet
    response = client.get("/api/models/alice/painter/settings", HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}")
    regular = len(b"# painter\n") + len(b"second\n") + len(lfsrules.DEFAULT_GITATTRIBUTES.encode())
    assert response.json()["storage"] == {
        "lfs": len(OLD),
        "xet": len(NEW),
        "regular": regular,
        "total": len(OLD) + len(NEW) + regular,
    }
    client.force_login(alice)
    page = client.get("/alice/painter/gating")
    assert page.status_code == 200 and page.context["storage"].xet == len(NEW)


WHO = ["anonymous", "stranger", "read token of the owner", "write member", "admin member"]


@pytest.mark.parametrize("private", [False, True])
def test_who_may_squash_list_and_delete(client, private):
    org = OrganizationFactory(name="acme")
    admin, writer = UserFactory(), UserFactory()
    add_member(org, admin, Role.ADMIN)
    add_member(org, writer, Role.WRITE)
    repo = make_repo(org, "model", {"model.safetensors": OLD}, private=private, author=admin)
    commit_files(repo, {"model.safetensors": NEW}, author=admin)
    tokens = {
        "anonymous": None,
        "stranger": token_for(UserFactory()),
        "read token of the owner": token_for(admin, "read"),
        "write member": token_for(writer),
        "admin member": token_for(admin),
    }
    routes = {
        "squash": ("post", "/api/models/acme/model/super-squash/main", {"message": "s"}),
        "list": ("get", "/api/models/acme/model/lfs-files", None),
        # (the head's content: the old bytes go with the first squash, which drops the old commit)
        "delete": ("post", "/api/models/acme/model/lfs-files/batch", {"deletions": {"sha": [sha(NEW)]}}),
        "settings": ("get", "/api/models/acme/model/settings", None),
    }
    allowed = {"squash": {"write member", "admin member"}, "list": {"admin member"}, "delete": {"admin member"}}
    allowed["settings"] = allowed["list"]
    for who in WHO:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {tokens[who]}"} if tokens[who] else {}
        for route, (method, url, body) in routes.items():
            kwargs = {"data": body, "content_type": "application/json"} if body is not None else {}
            status = getattr(client, method)(url, **kwargs, **headers).status_code
            if who in allowed[route]:
                assert status == 200, (who, route)
            elif who == "anonymous":
                assert status == 401, (who, route)
            elif private and who == "stranger":
                assert status == 404, (who, route)
            else:
                assert status == 403, (who, route)
    assert AuditEvent.objects.filter(repo=repo, action="repo.lfs_files_delete").count() == 1


@pytest.mark.slow  # two hf_xet uploads: about 10 s idle, more under load
def test_permanently_deleted_xet_content_goes_with_the_garbage_collector(hub, alice):
    """The default client uploads through hf_xet: deleting such a file for good frees its Xet
    file and chunks too, once nothing references them (found by a review: only plain objects were
    shown going)."""
    api = HfApi(endpoint=hub, token=token_for(alice))
    api.create_repo("alice/xetty")
    first = os.urandom(200_000)
    api.upload_file(repo_id="alice/xetty", path_in_repo="w.safetensors", path_or_fileobj=first)
    xet_hash = StoredObject.objects.get(sha256=sha(first)).xet_hash
    assert xet_hash and XetFile.objects.filter(hash=xet_hash).exists()
    api.upload_file(repo_id="alice/xetty", path_in_repo="w.safetensors", path_or_fileobj=os.urandom(200_000))
    [old] = [f for f in api.list_lfs_files("alice/xetty") if f.file_oid == sha(first)]

    api.permanently_delete_lfs_files("alice/xetty", [old])
    collect_garbage(grace=timedelta(0))

    assert not StoredObject.objects.filter(sha256=sha(first)).exists()
    assert not XetFile.objects.filter(hash=xet_hash).exists()
    assert fsck().problems == []


@pytest.mark.parametrize("transfer", ["xet", "lfs"])
def test_a_contributor_sending_deleted_bytes_again_does_not_bring_them_back(
    hub, alice, bob, model, transfer, monkeypatch
):
    """Found by a review: a user without write access who had the bytes lifted an admin's
    deletion by uploading them to a pull request. Their upload proves the bytes for their own
    pull request only; the content stays deleted at every revision until a writer uploads it."""
    old_revision = Commit.objects.filter(repo=model, title="add files").values_list("oid", flat=True).get()
    owner = HfApi(endpoint=hub, token=token_for(alice))
    owner.permanently_delete_lfs_files(
        "alice/painter", [f for f in owner.list_lfs_files("alice/painter") if f.file_oid == sha(OLD)]
    )
    old_file = f"{hub}/alice/painter/resolve/{old_revision}/model.safetensors"
    assert requests.get(old_file).status_code == 410
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", transfer == "lfs")  # lfs: the batch API

    contributor = HfApi(endpoint=hub, token=token_for(bob))
    pull = contributor.create_commit(
        "alice/painter",
        operations=[CommitOperationAdd("again.safetensors", OLD)],
        commit_message="the old weights again",
        create_pr=True,
    )
    assert pull.pr_revision is not None
    assert requests.get(old_file).status_code == 410  # bob's upload and commit lift nothing
    assert requests.get(f"{hub}/alice/painter/resolve/{pull.pr_revision}/again.safetensors").status_code == 410

    owner.upload_file(repo_id="alice/painter", path_in_repo="restored.safetensors", path_or_fileobj=OLD)
    assert requests.get(old_file).content == OLD
