"""GATEHOUSE_S3_PUBLIC_ENDPOINT_URL: clients reach the store by another name than the hub does (a
forwarding port here, as a public host name or load balancer in production). Every URL handed to
a client (presigned GET, PUT, multipart parts, Xet ranges) is signed for that name and works
through it; the hub's own requests keep going to AWS_ENDPOINT_URL."""

import hashlib
import os
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import HfApi, constants, hf_hub_download

from registry.storage import content, get_storage, get_xet_storage, reset_storage_caches
from tests.support.builders import make_repo, token_for
from tests.support.commit_api import inline_file, post_commit
from tests.support.tcpproxy import forwarding
from tests.xet.conftest import Cas, commit_xet_file

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("s3_backend")]


@pytest.fixture
def public(settings, s3_store):
    with forwarding(s3_store.endpoint) as forwarder:
        settings.GATEHOUSE_S3_PUBLIC_ENDPOINT_URL = forwarder.url
        reset_storage_caches()
        content._STORED.clear()
        yield forwarder
    settings.GATEHOUSE_S3_PUBLIC_ENDPOINT_URL = ""
    reset_storage_caches()


def test_downloads_and_lfs_uploads_use_the_public_endpoint(hub, alice, public, settings, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    settings.GATEHOUSE_LFS_MULTIPART_THRESHOLD = 1024 * 1024
    settings.GATEHOUSE_LFS_CHUNK_SIZE = 1024 * 1024  # raised to S3's 5 MiB
    make_repo(alice, "pub")
    api = HfApi(token=token_for(alice))
    single, parts = os.urandom(300_000), os.urandom(6 * 1024 * 1024)
    batch = httpx2.post(
        f"{hub}/alice/pub.git/info/lfs/objects/batch",
        json={
            "operation": "upload",
            "transfers": ["basic", "multipart"],
            "objects": [{"oid": hashlib.sha256(d).hexdigest(), "size": len(d)} for d in (single, parts)],
        },
        headers={"Authorization": f"Bearer {token_for(alice)}"},
    ).json()["objects"]
    assert batch[0]["actions"]["upload"]["href"].startswith(public.url + "/")
    assert all(
        url.startswith(public.url + "/")
        for n, url in batch[1]["actions"]["upload"]["header"].items()
        if n != "chunk_size"
    )

    before = public.bytes_to_store
    api.upload_file(path_or_fileobj=single, path_in_repo="single.bin", repo_id="alice/pub")
    api.upload_file(path_or_fileobj=parts, path_in_repo="parts.bin", repo_id="alice/pub")
    assert public.bytes_to_store - before > len(single) + len(parts)  # the bytes went through the public name

    redirect = httpx2.get(f"{hub}/alice/pub/resolve/main/parts.bin", follow_redirects=False)
    assert redirect.status_code == 302 and redirect.headers["Location"].startswith(public.url + "/")
    before = public.bytes_to_client
    assert Path(hf_hub_download("alice/pub", "parts.bin")).read_bytes() == parts
    assert Path(hf_hub_download("alice/pub", "single.bin")).read_bytes() == single
    assert public.bytes_to_client - before > len(single) + len(parts)


def test_xet_range_urls_use_the_public_endpoint(client, alice, public):
    cas = Cas(client)
    repo = make_repo(alice, "xet", {"README.md": b"# x\n"})
    file_hash, sha256 = cas.upload(repo, alice, os.urandom(300_000))
    commit_xet_file(repo, alice, "w.bin", sha256)
    token = cas.token("alice/xet", token_for(alice), scope="read").json()["accessToken"]

    plan = cas.reconstruction(token, file_hash, "bytes=100000-199999").json()
    (xorb, [entry]) = next(iter(plan["fetch_info"].items()))
    url, first, last = entry["url"], entry["url_range"]["start"], entry["url_range"]["end"]
    with get_xet_storage().open(xorb) as handle:
        stored = handle.read()

    assert url.startswith(public.url + "/")
    fetched = httpx2.get(url, headers={"Range": f"bytes={first}-{last}"})
    assert fetched.status_code == 206 and fetched.content == stored[first : last + 1]
    assert httpx2.get(url, headers={"Range": f"bytes={first}-{last + 1}"}).status_code == 403


def test_the_hub_itself_keeps_using_the_private_endpoint(client, alice, settings, s3_store):
    with forwarding(s3_store.endpoint) as forwarder:
        settings.GATEHOUSE_S3_PUBLIC_ENDPOINT_URL = forwarder.url
        reset_storage_caches()
    # The public name is gone (the forwarder closed); the hub's own reads and writes do not notice.
    try:
        make_repo(alice, "inside", {"a.txt": b"alpha"})
        data = b"\0" + os.urandom(999)  # binary for sure (random bytes without a NUL may read as text)
        answer = post_commit(client, token_for(alice), "alice/inside", [inline_file("b.txt", data)])
        assert answer.status_code == 200, answer.content
        assert get_storage().exists(hashlib.sha256(data).hexdigest())
        served = client.get("/alice/inside/resolve/main/b.txt")  # binary content: redirected, to the public name
        assert served.status_code == 302 and served["Location"].startswith(forwarder.url + "/")
    finally:
        settings.GATEHOUSE_S3_PUBLIC_ENDPOINT_URL = ""
        reset_storage_caches()
