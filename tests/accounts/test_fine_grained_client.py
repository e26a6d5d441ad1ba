"""Fine-grained tokens through the real huggingface_hub client against a live server: what a
token scoped to some repos may do there and not elsewhere, canReadGatedRepos, expiry,
revocation (by its owner and by a leak report), whoami's shape, and commits that would
publish a token."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

from accounts import permissions as perms
from accounts.models import AccessToken
from accounts.services import token_revoke
from gating import release
from gating.models import AccessRequest
from registry.models import Commit
from tests.support.builders import OrganizationFactory, add_member, fine_token, make_repo

pytestmark = pytest.mark.django_db(transaction=True)

READ, WRITE, DISCUSS = perms.REPO_CONTENT_READ, perms.REPO_WRITE, perms.DISCUSSION_WRITE


@pytest.fixture
def repos(alice, bob):
    """alice's private `a` and `b`, her org's private `acme/c`, bob's public and gated repos."""
    acme = OrganizationFactory(name="acme")
    add_member(acme, alice, "write")
    made = {
        "a": make_repo(alice, "a", {"config.json": b'{"a": 1}'}, private=True),
        "b": make_repo(alice, "b", {"config.json": b'{"b": 1}'}, private=True),
        "c": make_repo(acme, "c", {"config.json": b'{"c": 1}'}, private=True, author=alice),
        "public": make_repo(bob, "public", {"config.json": b'{"p": 1}'}),
        "gated": make_repo(bob, "gated", {"config.json": b'{"g": 1}'}),
    }
    release.release_plan_set(repo=made["gated"], actor=bob, stages=[release.StageSpec(mode="gated_manual")])
    AccessRequest.objects.create(repo=made["gated"], user=alice, status="accepted")
    return made, acme


def test_a_token_reads_and_writes_only_where_its_scopes_say(hub, alice, repos):
    made, acme = repos
    token = fine_token(alice, [(made["a"], [WRITE]), (acme, [READ])])
    api = HfApi(token=token)
    assert hf_hub_download("alice/a", "config.json", token=token)
    assert hf_hub_download("acme/c", "config.json", token=token)
    api.upload_file(path_or_fileobj=b"new", path_in_repo="notes.txt", repo_id="alice/a")
    # alice's own private repo outside the scopes: missing, as to a stranger.
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("alice/b", "config.json", token=token)
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("alice/b")
    assert [m.id for m in api.list_models(author="alice")] == ["alice/a"]
    # Read-only on the org's repo: no commit lands there.
    before = Commit.objects.count()
    with pytest.raises(HfHubHTTPError) as refused:
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="acme/c")
    assert refused.value.response.status_code == 403
    assert "repo.write" in refused.value.response.headers["X-Error-Message"]
    assert Commit.objects.count() == before
    # A public repo reads as to anyone, but takes nothing: no discussion without discussion.write.
    assert hf_hub_download("bob/public", "config.json", token=token)
    with pytest.raises(HfHubHTTPError) as no_post:
        api.create_discussion("bob/public", title="hello")
    assert no_post.value.response.status_code == 403
    # Creating a repo needs repo.write on the namespace itself.
    with pytest.raises(HfHubHTTPError):
        api.create_repo("alice/new-one")


def test_global_discussion_write_and_can_read_gated_repos(hub, alice, repos):
    made, _ = repos
    scoped_only = fine_token(alice, [(made["a"], [READ])])
    with pytest.raises(GatedRepoError):
        hf_hub_download("bob/gated", "config.json", token=scoped_only)
    reader = fine_token(alice, gated=True, global_permissions=[DISCUSS])
    assert hf_hub_download("bob/gated", "config.json", token=reader)
    discussion = HfApi(token=reader).create_discussion("bob/public", title="Global discussion.write")
    assert discussion.num == 1
    # canReadGatedRepos reads public gated repos only: a private repo stays missing.
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("alice/a", "config.json", token=reader)


def test_whoami_shape(hub, alice, repos):
    made, acme = repos
    expiry = timezone.now() + timedelta(days=3)
    token = fine_token(
        alice,
        [(made["a"], [WRITE, DISCUSS]), (acme, [READ]), (alice, [perms.USER_WEBHOOKS_READ])],
        global_permissions=[DISCUSS],
        gated=True,
        expires_at=expiry,
        name="ci",
    )
    info = HfApi(token=token).whoami()
    access = info["auth"]["accessToken"]
    assert access["role"] == "fineGrained" and access["displayName"] == "ci"
    fine = access["fineGrained"]
    assert fine["canReadGatedRepos"] is True and fine["global"] == ["discussion.write"]
    by_name = {scope["entity"]["name"]: scope for scope in fine["scoped"]}
    assert by_name["alice/a"] == {
        "entity": {"_id": f"{made['a'].pk:024x}", "type": "model", "name": "alice/a"},
        "permissions": ["discussion.write", "repo.content.read", "repo.write"],
    }
    assert by_name["acme"]["entity"] == {"_id": f"{acme.pk:024x}", "type": "org", "name": "acme"}
    assert by_name["alice"]["entity"]["type"] == "user"
    assert by_name["alice"]["permissions"] == ["user.webhooks.read"]
    assert access["expiresAt"].endswith("Z")


def test_expiry_and_revocation(hub, alice, repos):
    made, _ = repos
    token = fine_token(alice, [(made["a"], [READ])], expires_at=timezone.now() + timedelta(hours=1))
    assert hf_hub_download("alice/a", "config.json", token=token)
    AccessToken.objects.filter(user=alice).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(HfHubHTTPError) as expired:
        HfApi(token=token).whoami()
    assert expired.value.response.status_code == 401

    revoked = fine_token(alice, [(made["a"], [READ])], name="second")
    assert HfApi(token=revoked).whoami()["name"] == "alice"
    token_revoke(user=alice, token_id=AccessToken.objects.get(name="second").pk)
    with pytest.raises(HfHubHTTPError):
        HfApi(token=revoked).whoami()


def test_leak_report_revokes_and_is_no_oracle(hub, alice, repos):
    made, _ = repos
    leaked = fine_token(alice, [(made["a"], [READ])])
    answers = [
        requests.post(f"{hub}/api/credentials/revoke", json={"credential": leaked}, timeout=10),
        requests.post(f"{hub}/api/credentials/revoke", json={"credential": leaked}, timeout=10),  # again
        requests.post(f"{hub}/api/credentials/revoke", json={"credential": "gth_" + "x" * 50}, timeout=10),
        requests.post(f"{hub}/api/credentials/revoke", data=b"\xff not json", timeout=10),
        requests.post(f"{hub}/api/credentials/revoke", json=[leaked[:-1] + "Q"], timeout=10),
    ]
    assert {(r.status_code, r.content) for r in answers} == {(202, b"")}
    with pytest.raises(HfHubHTTPError):
        HfApi(token=leaked).whoami()
    assert AccessToken.objects.get(user=alice).revoked_at is not None


def test_commits_holding_a_token_are_refused(hub, alice, repos):
    made, _ = repos
    token = fine_token(alice, [(made["a"], [WRITE])])
    api = HfApi(token=token)
    before = Commit.objects.count()
    leaking = f"HF_TOKEN = '{token}'\n".encode()
    with pytest.raises(HfHubHTTPError) as refused:
        api.upload_file(path_or_fileobj=leaking, path_in_repo="train.py", repo_id="alice/a")
    assert refused.value.response.status_code == 400
    assert refused.value.response.headers["X-Error-Code"] == "TokenInCommit"
    assert "train.py" in str(refused.value)
    assert Commit.objects.count() == before
    # Text that only looks like a token (a wrong checksum) is committed.
    api.upload_file(
        path_or_fileobj=leaking.replace(token[-3:].encode(), b"zzz"), path_in_repo="t.py", repo_id="alice/a"
    )
    assert Commit.objects.count() == before + 1


def test_a_token_in_utf16_text_or_a_file_that_went_to_lfs_is_refused_too(hub, alice, repos):
    """Found by an outsider attack: UTF-16 text (PowerShell's `>`), a NUL before the token, and
    text files that went to LFS were not scanned."""
    made, _ = repos
    token = fine_token(alice, [(made["a"], [WRITE])])
    api = HfApi(token=token)
    before = Commit.objects.count()
    leaks = {
        "notes.txt": f"\ufefftoken: {token}\n".encode("utf-16-le"),
        "run.log": b"\0" + f"HF_TOKEN={token}\n".encode(),
        "big.bin": b"\0" * 1024 + f"{token}".encode(),  # binary: stored through LFS or Xet
    }
    for path, data in leaks.items():
        with pytest.raises(HfHubHTTPError) as refused:
            api.upload_file(path_or_fileobj=data, path_in_repo=path, repo_id="alice/a")
        assert refused.value.response.headers["X-Error-Code"] == "TokenInCommit", path
    assert Commit.objects.count() == before
