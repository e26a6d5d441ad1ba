"""Xet reads follow the same policy as /resolve: no read token, and no reconstruction, for anyone
the policy would not let download the file. Forged, expired or mis-scoped tokens are refused."""

import os
import time

import pytest
import time_machine
from django.conf import settings

from community import services as community_services
from gating import services as gating_services
from registry import services
from tests.support import xet as xet_build
from tests.support.builders import OrganizationFactory, add_member, commit_files, make_repo, token_for
from tests.xet.conftest import CHUNK, commit_xet_file

pytestmark = pytest.mark.django_db


def _xet_repo(cas, owner, name, *, private=False, gated=""):
    repo = make_repo(owner, name, {"README.md": b"# model\n"}, private=private)
    file_hash, sha256 = cas.upload(repo, owner, os.urandom(300_000))
    commit_xet_file(repo, owner, "model.safetensors", sha256)
    if gated:
        repo = services.repo_settings_update(repo=repo, gated=gated, actor=owner)
    return repo, file_hash


def trees_sha256(repo, path: str) -> str:
    from registry.selectors import find_file, resolve_revision

    return find_file(resolve_revision(repo, "main"), path)["lfs"]["sha256"]


def _read_token(cas, repo, user):
    response = cas.token(repo.repo_id, token_for(user) if user else None, scope="read")
    return response


def test_owner_gets_a_read_token_and_a_reconstruction(cas, alice):
    repo, file_hash = _xet_repo(cas, alice, "open")
    response = _read_token(cas, repo, alice)
    assert response.status_code == 200
    body = response.json()
    assert response["X-Xet-Access-Token"] == body["accessToken"]
    assert body["casUrl"].endswith("/cas") and body["exp"] > time.time()
    plan = cas.reconstruction(body["accessToken"], file_hash, "bytes=0-299999").json()
    assert sum(term["unpacked_length"] for term in plan["terms"]) == 300_000


def test_private_repo_read_token_looks_like_a_missing_repo(cas, alice, bob):
    repo, _ = _xet_repo(cas, alice, "hidden", private=True)
    missing = cas.token("alice/does-not-exist", token_for(bob), scope="read")
    response = _read_token(cas, repo, bob)
    assert response.status_code == missing.status_code == 404
    assert response.json() == missing.json()
    assert _read_token(cas, repo, None).status_code == 401
    assert cas.token(repo.repo_id, token_for(bob), scope="write").status_code == 404


def test_gated_repo_gives_no_read_token_until_access_is_granted(cas, alice, bob):
    repo, file_hash = _xet_repo(cas, alice, "gated", gated="manual")
    refused = _read_token(cas, repo, bob)
    assert refused.status_code == 403
    assert refused["X-Error-Code"] == "GatedRepo"
    assert _read_token(cas, repo, None).status_code == 401
    gating_services.access_grant(repo=repo, reviewer=alice, user=bob, has_role=False)
    granted = _read_token(cas, repo, bob)
    assert granted.status_code == 200
    assert cas.reconstruction(granted.json()["accessToken"], file_hash).status_code == 200


def test_revoked_access_stops_reconstructions_with_an_existing_token(cas, alice, bob):
    repo, file_hash = _xet_repo(cas, alice, "revocable", gated="manual")
    gating_services.access_grant(repo=repo, reviewer=alice, user=bob, has_role=False)
    token = _read_token(cas, repo, bob).json()["accessToken"]
    gating_services.access_request_decide(repo=repo, reviewer=alice, user_name="bob", status="rejected", reason="no")
    assert cas.reconstruction(token, file_hash).status_code == 403


def test_read_token_of_one_repo_cannot_reconstruct_another_repos_file(cas, alice, bob):
    _, secret_hash = _xet_repo(cas, alice, "secret", private=True)
    public = make_repo(bob, "public", {"README.md": b"# p\n"})
    token = _read_token(cas, public, bob).json()["accessToken"]
    response = cas.reconstruction(token, secret_hash)
    assert response.status_code == 404
    assert cas.reconstruction(token, "0" * 64).json() == response.json()


def test_forged_expired_and_misscoped_tokens(cas, alice):
    repo, file_hash = _xet_repo(cas, alice, "tokens")
    read = _read_token(cas, repo, alice).json()["accessToken"]
    payload, _, signature = read.rpartition(":")
    forged = payload + ":" + ("A" if signature[0] != "A" else "B") + signature[1:]
    assert cas.reconstruction(forged, file_hash).status_code == 401
    assert cas.reconstruction("xet_" + "0" * 32, file_hash).status_code == 401
    assert cas.client.get(f"/cas/v1/reconstructions/{file_hash}").status_code == 401
    with time_machine.travel(time.time() + settings.GATEHOUSE_XET_TOKEN_TTL + 1):
        assert cas.reconstruction(read, file_hash).status_code == 401
    # A read token never writes.
    assert cas.post_xorb(read, "0" * 64, b"").status_code == 403
    assert cas.post_shard(read, b"").status_code == 403


def test_revoking_the_hub_token_revokes_its_xet_tokens(cas, alice):
    from accounts import services as account_services

    repo, file_hash = _xet_repo(cas, alice, "revoked")
    hub_token = token_for(alice)
    xet_token = cas.token(repo.repo_id, hub_token, scope="read").json()["accessToken"]
    account_services.token_revoke(user=alice, token_id=alice.access_tokens.latest("created_at").pk)
    assert cas.reconstruction(xet_token, file_hash).status_code == 401


def test_write_token_needs_write_access(cas, alice, bob):
    repo = make_repo(alice, "writable", {"README.md": b"# w\n"})
    assert cas.token(repo.repo_id, token_for(bob), scope="write").status_code == 403
    assert cas.token(repo.repo_id, token_for(alice, role="read"), scope="write").status_code == 403
    assert cas.token(repo.repo_id, token_for(alice), scope="write").status_code == 200


def test_signed_fetch_urls_cannot_be_altered(cas, alice):
    repo, file_hash = _xet_repo(cas, alice, "fetch")
    token = _read_token(cas, repo, alice).json()["accessToken"]
    plan = cas.reconstruction(token, file_hash).json()
    (xorb, [entry]) = next(iter(plan["fetch_info"].items()))
    url = entry["url"].split("testserver", 1)[1]
    last = entry["url_range"]["end"]
    ok = cas.client.get(url, HTTP_RANGE=f"bytes=0-{last}")
    assert ok.status_code == 206 and len(b"".join(ok.streaming_content)) == last + 1
    assert cas.client.get(url, HTTP_RANGE=f"bytes=0-{last + 1}").status_code in (206, 416)
    widened = url.replace(f"r=0-{last}", f"r=0-{last + 1000}")
    assert cas.client.get(widened).status_code == 403
    assert cas.client.get(url.replace("sig=", "sig=0")).status_code == 403
    with time_machine.travel(time.time() + settings.GATEHOUSE_XET_FETCH_URL_TTL + 1):
        assert cas.client.get(url).status_code == 403


def test_files_withheld_by_the_release_stage_are_not_reconstructed(cas, alice, bob):
    from gating import release

    repo, file_hash = _xet_repo(cas, alice, "staged")
    release.release_plan_set(
        repo=repo, actor=alice, stages=[release.StageSpec(mode="public", withheld_patterns=("*.safetensors",))]
    )
    token = _read_token(cas, repo, bob)
    assert token.status_code == 200  # the card and config stay public
    refused = cas.reconstruction(token.json()["accessToken"], file_hash)
    assert refused.status_code == 403 and refused["X-Error-Code"] == "GatedRepo"
    owner_token = _read_token(cas, repo, alice).json()["accessToken"]
    assert cas.reconstruction(owner_token, file_hash).status_code == 200
    # The same bytes under an open name stay withheld while a withheld path holds them at a
    # branch head (withheld by content: tests/security/test_withheld_by_content.py) ...
    sha256 = trees_sha256(repo, "model.safetensors")
    commit_xet_file(repo, alice, "aaa-open/copy.bin", sha256)
    token = _read_token(cas, repo, bob).json()["accessToken"]
    assert cas.reconstruction(token, file_hash).status_code == 403
    # ... and are served under it once no withheld path holds them any more.
    commit_files(repo, {"model.safetensors": None}, author=alice)
    token = _read_token(cas, repo, bob).json()["accessToken"]
    assert cas.reconstruction(token, file_hash).status_code == 200


def test_license_acknowledgment_comes_before_a_read_token(cas, alice, bob):
    from licenses.selectors import license_at
    from licenses.services import acknowledgment_record
    from registry.selectors import resolve_revision
    from tests.licenses.conftest import LICENSE_V1, RAIL_CARD

    repo = make_repo(alice, "rail", {"README.md": RAIL_CARD, "LICENSE": LICENSE_V1})
    file_hash, sha256 = cas.upload(repo, alice, os.urandom(100_000))
    commit_xet_file(repo, alice, "unet.safetensors", sha256)
    refused = _read_token(cas, repo, bob)
    assert refused.status_code == 403 and "license" in refused["X-Error-Message"].lower()
    version = license_at(repo, resolve_revision(repo, "main")).version
    acknowledgment_record(user=bob, repo=repo, version=version)
    token = _read_token(cas, repo, bob).json()["accessToken"]
    assert cas.reconstruction(token, file_hash).status_code == 200


def test_xet_downloads_are_counted_like_resolve_downloads(cas, alice):
    from registry.models import Repo

    repo, file_hash = _xet_repo(cas, alice, "counted")  # no config.json: any file counts
    token = _read_token(cas, repo, alice).json()["accessToken"]
    cas.reconstruction(token, file_hash, "bytes=0-299999")
    cas.reconstruction(token, file_hash, "bytes=1000-2000")  # a resumed or partial read: not counted
    assert Repo.objects.get(pk=repo.pk).downloads == 1


def test_a_pull_request_write_token_reads_back_only_its_own_uploads(cas, alice, bob):
    """SECURITY: anyone signed in gets a write token for a pull request; it must not read a gated
    file whose Xet hash the (public) tree listing shows."""
    repo, file_hash = _xet_repo(cas, alice, "gated-pr", gated="manual")
    tree = cas.client.get(f"/api/models/{repo.repo_id}/tree/main", HTTP_AUTHORIZATION=f"Bearer {token_for(bob)}")
    assert [entry.get("xetHash") for entry in tree.json() if entry.get("xetHash")] == [file_hash]
    write = cas.client.get(
        f"/api/models/{repo.repo_id}/xet-write-token/None?create_pr=1", HTTP_AUTHORIZATION=f"Bearer {token_for(bob)}"
    )
    assert write.status_code == 200
    assert cas.reconstruction(write.json()["accessToken"], file_hash).status_code == 404
    # What bob uploads himself he may read back with the same token, even content the repo
    # already holds (he proved he has it by sending it).
    own_hash, _ = cas.upload(repo, bob, os.urandom(50_000), create_pr=True)
    assert cas.reconstruction(write.json()["accessToken"], own_hash).status_code == 200
    shared = os.urandom(40_000)
    shared_hash, _ = cas.upload(repo, alice, shared)
    assert cas.reconstruction(write.json()["accessToken"], shared_hash).status_code == 404
    assert cas.upload(repo, bob, shared, create_pr=True)[0] == shared_hash
    assert cas.reconstruction(write.json()["accessToken"], shared_hash).status_code == 200


def test_xorb_uploads_stop_when_the_hub_token_is_revoked(cas, alice):
    from accounts import services as account_services
    from tests.support import xet as xet_build

    repo = make_repo(alice, "stop", {"README.md": b"# s\n"})
    write = cas.write_token(repo.repo_id, token_for(alice))
    account_services.token_revoke(user=alice, token_id=alice.access_tokens.latest("created_at").pk)
    xorb_hash, body = xet_build.xorb([os.urandom(1000)])
    assert cas.post_xorb(write, xorb_hash, body).status_code == 401


def test_contributors_without_write_access_have_a_daily_byte_quota(cas, alice, bob, settings):
    from django.core.cache import cache

    from tests.support import xet as xet_build
    from xet.models import Xorb

    cache.clear()
    settings.GATEHOUSE_XET_CONTRIBUTOR_BYTES_PER_DAY = 150_000
    repo = make_repo(alice, "quota", {"README.md": b"# q\n"})
    bob_token = cas.write_token(repo.repo_id, token_for(bob), create_pr=True)
    first_hash, first = xet_build.xorb([os.urandom(100_000)])
    second_hash, second = xet_build.xorb([os.urandom(100_000)])
    assert cas.post_xorb(bob_token, first_hash, first).status_code == 200

    refused = cas.post_xorb(bob_token, second_hash, second)
    assert refused.status_code == 429
    assert refused["RateLimit-Policy"] == '"fixed window";"api";q=150000;w=86400'
    assert "bytes uploaded to pull requests" in refused["X-Error-Message"]
    assert not Xorb.objects.filter(hash=second_hash).exists()
    # Writers are not limited: they may commit to the repo anyway.
    alice_token = cas.write_token(repo.repo_id, token_for(alice))
    assert cas.post_xorb(alice_token, second_hash, second).status_code == 200
    cache.clear()


def test_contributors_shards_draw_from_the_same_quota(cas, alice, bob, settings):
    from django.core.cache import cache

    from tests.support import xet as xet_build
    from xet.models import XetFile

    cache.clear()
    repo = make_repo(alice, "quota", {"README.md": b"# q\n"})
    bob_token = cas.write_token(repo.repo_id, token_for(bob), create_pr=True)
    chunks = [os.urandom(50_000)]
    xorb_hash, xorb = xet_build.xorb(chunks)
    file_hash, content, terms = xet_build.file_of({xorb_hash: chunks}, [(xorb_hash, 0, 1)])
    shard = xet_build.shard([(file_hash, terms, xet_build.sha256(content))])
    settings.GATEHOUSE_XET_CONTRIBUTOR_BYTES_PER_DAY = len(xorb) + len(shard) - 1
    assert cas.post_xorb(bob_token, xorb_hash, xorb).status_code == 200

    refused = cas.post_shard(bob_token, shard)
    assert refused.status_code == 429 and "bytes uploaded to pull requests" in refused["X-Error-Message"]
    assert not XetFile.objects.filter(hash=file_hash).exists()
    settings.GATEHOUSE_XET_CONTRIBUTOR_BYTES_PER_DAY += 1
    assert cas.post_shard(bob_token, shard).status_code == 200
    cache.clear()


def test_a_write_right_removed_after_the_token_was_minted_stops_the_shard(cas, alice, bob):
    """The push rule is checked again when content lands (issue 10's revocation model): a member
    downgraded to read after minting a write token cannot register the shard of its upload."""
    org = OrganizationFactory(name="studio")
    membership = add_member(org, bob, "write")
    repo = services.repo_create(namespace="studio", name="shared", creator=bob)
    token = cas.write_token(repo.repo_id, token_for(bob))
    chunks = [os.urandom(CHUNK)]
    xorb_hash, body = xet_build.xorb(chunks)
    assert cas.post_xorb(token, xorb_hash, body).status_code == 200
    file_hash, content, terms = xet_build.file_of({xorb_hash: chunks}, [(xorb_hash, 0, 1)])
    shard = xet_build.shard([(file_hash, terms, xet_build.sha256(content))])
    membership.role = "read"
    membership.save()
    refused = cas.post_shard(token, shard)
    assert refused.status_code == 403, refused.content
    membership.role = "write"
    membership.save()
    assert cas.post_shard(token, shard).status_code == 200


def test_a_pull_request_closed_after_the_token_was_minted_takes_no_shard(cas, alice, bob):
    """A pull request's write token was checked only at minting before: its shard registered
    into a closed pull request. The push rule is now checked again at the shard."""
    repo = make_repo(alice, "reviewed", {"README.md": b"# w\n"})
    pull_request = community_services.pull_request_open(
        repo=repo, author=bob, title="t", description="", base_branch="main", start_oid=None, draft=False
    )
    token = cas.write_token(repo.repo_id, token_for(bob), revision=pull_request.ref_name)
    chunks = [os.urandom(CHUNK)]
    xorb_hash, body = xet_build.xorb(chunks)
    assert cas.post_xorb(token, xorb_hash, body).status_code == 200
    file_hash, content, terms = xet_build.file_of({xorb_hash: chunks}, [(xorb_hash, 0, 1)])
    community_services.discussion_status_change(discussion=pull_request, actor=alice, status="closed")
    refused = cas.post_shard(token, xet_build.shard([(file_hash, terms, xet_build.sha256(content))]))
    assert refused.status_code == 400, refused.content
    assert "closed" in refused.json()["error"]


def test_hf_xets_none_revision_means_a_new_pull_request_at_minting_and_at_the_shard(cas, alice, bob):
    """hf_xet asks for `.../xet-write-token/None?create_pr=1`: a contributor may, the token says
    so, and the shard registers under the same reading; without create_pr, "None" is a branch."""
    repo = make_repo(alice, "contrib", {"README.md": b"# w\n"})
    assert cas.token(repo.repo_id, token_for(bob), scope="write", revision="None").status_code == 403
    file_hash, _ = cas.upload(repo, bob, os.urandom(70_000), create_pr=True)
    assert file_hash
