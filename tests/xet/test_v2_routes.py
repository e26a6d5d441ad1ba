"""The v2 CAS routes hf_xet 1.8 tries first (`POST /cas/v2/shards`, `GET /cas/v2/reconstructions`),
on the same policy as v1; and global dedupe (`/cas/v1/chunks/...`), which always says "no match"."""

import json
import os
from pathlib import Path

import pytest
from django.core.signals import request_started
from huggingface_hub import HfApi, hf_hub_download

from gating import services as gating_services
from registry import services
from tests.support import xet as xet_build
from tests.support.builders import make_repo, token_for
from tests.xet.conftest import CHUNK, commit_xet_file
from xet import format, reconstruction
from xet.models import XetFile

pytestmark = pytest.mark.django_db


def _xet_repo(cas, owner, name, data: bytes, *, private=False, gated=""):
    repo = make_repo(owner, name, {"README.md": b"# model\n"}, private=private)
    file_hash, sha256 = cas.upload(repo, owner, data, version="v2")
    commit_xet_file(repo, owner, "model.safetensors", sha256)
    if gated:
        repo = services.repo_settings_update(repo=repo, gated=gated, actor=owner)
    return repo, file_hash


def _read_token(cas, repo, user) -> str:
    response = cas.token(repo.repo_id, token_for(user), scope="read")
    assert response.status_code == 200, response.content
    return response.json()["accessToken"]


def test_v2_shard_answers_ndjson_events_ending_in_the_result(cas, alice):
    repo = make_repo(alice, "shards", {"README.md": b"# s\n"})
    token = cas.write_token(repo.repo_id, token_for(alice))
    chunks = [os.urandom(CHUNK), os.urandom(CHUNK)]
    xorb_hash, body = xet_build.xorb(chunks)
    assert cas.post_xorb(token, xorb_hash, body).status_code == 200
    file_hash, content, terms = xet_build.file_of({xorb_hash: chunks}, [(xorb_hash, 0, 2)])
    shard = xet_build.shard([(file_hash, terms, xet_build.sha256(content))])
    response = cas.post_shard(token, shard, "v2")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    events = [json.loads(line) for line in response.content.decode().splitlines()]
    assert events[-1] == {"type": "result", "result": 1}
    assert XetFile.objects.filter(hash=file_hash).exists()
    # The same shard again (as v1 would get it after a failed v2): accepted, nothing new.
    again = [json.loads(line) for line in cas.post_shard(token, shard, "v2").content.decode().splitlines()]
    assert again[-1] == {"type": "result", "result": 0}


def test_v2_shard_refuses_what_v1_refuses(cas, alice, bob):
    repo = make_repo(alice, "strict", {"README.md": b"# s\n"})
    token = cas.write_token(repo.repo_id, token_for(alice))
    chunks = [os.urandom(1000)]
    xorb_hash, _ = xet_build.xorb(chunks)  # never uploaded
    file_hash, content, terms = xet_build.file_of({xorb_hash: chunks}, [(xorb_hash, 0, 1)])
    unknown = cas.post_shard(token, xet_build.shard([(file_hash, terms, xet_build.sha256(content))]), "v2")
    assert unknown.status_code == 400 and "never uploaded" in unknown.json()["error"]
    garbage = cas.post_shard(token, b"not a shard", "v2")
    assert garbage.status_code == 400 and garbage["X-Error-Code"]
    read = _read_token(cas, repo, alice)
    assert cas.post_shard(read, b"", "v2").status_code == 403
    assert cas.client.post("/cas/v2/shards", b"", content_type="").status_code == 401
    # A user who may not push gets no write token at all; GET is no method of this route.
    assert cas.token(repo.repo_id, token_for(bob), scope="write").status_code == 403
    get = cas.client.get("/cas/v2/shards", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert get.status_code == 404 and get.json()


def test_v2_reconstruction_groups_fetch_entries_per_xorb_and_matches_v1(cas, alice):
    chunks = [os.urandom(CHUNK) for _ in range(5)]
    data = b"".join(chunks)
    repo, file_hash = _xet_repo(cas, alice, "plan", data)
    token = _read_token(cas, repo, alice)
    v1 = cas.reconstruction(token, file_hash, f"bytes={CHUNK + 10}-{3 * CHUNK}", version="v1").json()
    v2 = cas.reconstruction(token, file_hash, f"bytes={CHUNK + 10}-{3 * CHUNK}", version="v2")
    assert v2.status_code == 200 and v2["Cache-Control"] == "private, no-store"
    v2 = v2.json()
    assert set(v2) == {"offset_into_first_range", "terms", "xorbs"}
    assert v2["terms"] == v1["terms"] and v2["offset_into_first_range"] == v1["offset_into_first_range"] == 10
    ((xorb, entries),) = v2["xorbs"].items()
    ((_, v1_entries),) = v1["fetch_info"].items()
    assert [e["ranges"] for e in entries] == [
        [{"chunks": e["range"], "bytes": e["url_range"]}] for e in v1_entries
    ]  # one signed byte range per URL, as in v1
    # The URL reads exactly its range, and the bytes are the chunks the plan names.
    entry = entries[0]
    first, last = entry["ranges"][0]["bytes"]["start"], entry["ranges"][0]["bytes"]["end"]
    url = entry["url"].split("testserver", 1)[1]
    ok = cas.client.get(url, HTTP_RANGE=f"bytes={first}-{last}")
    assert ok.status_code == 206
    index = reconstruction.xorb_chunks(xorb)
    cs, ce = entry["ranges"][0]["chunks"]["start"], entry["ranges"][0]["chunks"]["end"]
    assert len(b"".join(ok.streaming_content)) == sum(c.compressed_end - c.compressed_start for c in index[cs:ce])
    clamped = cas.client.get(url, HTTP_RANGE=f"bytes={first}-{last + 1}")  # never past the signed range
    assert clamped.status_code == 206 and len(b"".join(clamped.streaming_content)) == last - first + 1
    assert cas.client.get(url, HTTP_RANGE=f"bytes={first - 1}-{last}").status_code == 416
    widened = url.replace(f"r={first}-{last}", f"r={first}-{last + 1000}")
    assert cas.client.get(widened).status_code == 403
    # Past the end of the file: 416, as on v1.
    assert cas.reconstruction(token, file_hash, f"bytes={len(data)}-", version="v2").status_code == 416


def test_v2_reconstruction_follows_the_read_policy(cas, alice, bob):
    _, secret_hash = _xet_repo(cas, alice, "secret", os.urandom(70_000), private=True)
    public = make_repo(bob, "public", {"README.md": b"# p\n"})
    stranger = _read_token(cas, public, bob)
    hidden = cas.reconstruction(stranger, secret_hash, version="v2")
    assert hidden.status_code == 404
    assert cas.reconstruction(stranger, "0" * 64, version="v2").json() == hidden.json()
    assert cas.reconstruction(stranger, "not-a-hash", version="v2").status_code == 400
    assert cas.client.get(f"/cas/v2/reconstructions/{secret_hash}").status_code == 401

    gated, gated_hash = _xet_repo(cas, alice, "gated", os.urandom(60_000), gated="manual")
    assert cas.token(gated.repo_id, token_for(bob), scope="read").status_code == 403
    gating_services.access_grant(repo=gated, reviewer=alice, user=bob, has_role=False)
    token = _read_token(cas, gated, bob)
    assert cas.reconstruction(token, gated_hash, version="v2").status_code == 200
    gating_services.access_request_decide(repo=gated, reviewer=alice, user_name="bob", status="rejected", reason="no")
    assert cas.reconstruction(token, gated_hash, version="v2").status_code == 403

    # A pull-request write token reads back only what its holder uploaded.
    write = cas.client.get(
        f"/api/models/{gated.repo_id}/xet-write-token/None?create_pr=1", HTTP_AUTHORIZATION=f"Bearer {token_for(bob)}"
    ).json()["accessToken"]
    assert cas.reconstruction(write, gated_hash, version="v2").status_code == 404


def test_global_dedupe_never_answers_even_for_content_the_caller_may_read(cas, alice, bob):
    """SECURITY: a positive dedupe answer tells the caller the server holds some content. Gatehouse
    answers 404 ("no match") for every chunk, the caller's own included; hf_xet then simply
    uploads the chunks (the xorb POST is idempotent and cheap to verify)."""
    first_chunk = os.urandom(CHUNK)
    repo, file_hash = _xet_repo(cas, alice, "dedupe", first_chunk + os.urandom(CHUNK), private=True)
    (xorb, *_), *_ = XetFile.objects.get(hash=file_hash).terms
    chunk_hash = reconstruction.xorb_chunks(xorb)[0].hash
    name = format.hash_to_string(chunk_hash)
    other = make_repo(bob, "other", {"README.md": b"# o\n"})
    for token in (
        cas.write_token(other.repo_id, token_for(bob)),
        _read_token(cas, other, bob),
        cas.write_token(repo.repo_id, token_for(alice)),
        _read_token(cas, repo, alice),
    ):
        for prefix in ("default", "default-merkledb"):
            response = cas.client.get(f"/cas/v1/chunks/{prefix}/{name}", HTTP_AUTHORIZATION=f"Bearer {token}")
            assert response.status_code == 404 and response.json()
            unknown = cas.client.get(f"/cas/v1/chunks/{prefix}/{'0' * 64}", HTTP_AUTHORIZATION=f"Bearer {token}")
            assert unknown.status_code == 404 and unknown.content == response.content


@pytest.mark.django_db(transaction=True)
def test_hf_xet_uses_v2_routes_and_sends_each_shard_once(hub, alice, tmp_path):
    """The real client: uploads go to /cas/v2/shards only (no second copy of the shard to v1) and
    downloads plan through /cas/v2/reconstructions only."""
    paths: list[str] = []

    def record(sender, environ, **kwargs):
        paths.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")

    request_started.connect(record)
    try:
        api = HfApi(token=token_for(alice))
        api.create_repo("alice/v2")
        weights = tmp_path / "w.safetensors"
        weights.write_bytes(os.urandom(3 * 1024 * 1024) + bytes(1024 * 1024))
        api.upload_file(path_or_fileobj=str(weights), path_in_repo="w.safetensors", repo_id="alice/v2")
        uploaded = list(paths)
        del paths[:]
        path = hf_hub_download("alice/v2", "w.safetensors", cache_dir=tmp_path / "cache", token=api.token)
        downloaded = list(paths)
    finally:
        request_started.disconnect(record)
    assert [p for p in uploaded if "/shards" in p] == ["POST /cas/v2/shards"]
    assert any(p.startswith("GET /cas/v2/reconstructions/") for p in downloaded)
    assert not [p for p in uploaded + downloaded if "/cas/v1/shards" in p or "/cas/v1/reconstructions" in p]
    assert Path(path).read_bytes() == weights.read_bytes()
