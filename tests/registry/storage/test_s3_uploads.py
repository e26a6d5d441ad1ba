"""LFS uploads on the S3 backend: presigned PUTs (and part PUTs) straight to the store, with the
hub hashing the bytes itself before anything is committable."""

import hashlib
import os
import socket
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import pytest
from huggingface_hub import HfApi, constants, hf_hub_download

from registry.models import RepoObject
from registry.ops.gc import collect_garbage
from registry.storage import get_storage
from tests.support.builders import make_repo, token_for
from tests.support.commit_api import lfs_file, post_commit
from tests.support.seaweedfs import BUCKET

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("s3_backend")]


@pytest.fixture
def lfs_client(monkeypatch):
    """The Hub client without hf_xet: large files go through the LFS batch API."""
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)


def _batch(hub: str, token: str, repo_id: str, oid: str, size: int, transfers=("basic",)) -> dict:
    answer = httpx2.post(
        f"{hub}/{repo_id}.git/info/lfs/objects/batch",
        json={"operation": "upload", "transfers": list(transfers), "objects": [{"oid": oid, "size": size}]},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.git-lfs+json"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["objects"][0]


def _verify(hub: str, token: str, repo_id: str, oid: str, size: int):
    return httpx2.post(
        f"{hub}/{repo_id}.git/info/lfs/objects/verify",
        json={"oid": oid, "size": size},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_upload_file_puts_the_bytes_straight_into_the_store(hub, alice, lfs_client, s3_store):
    data = os.urandom(2 * 1024 * 1024 + 3)
    make_repo(alice, "up")

    HfApi(token=token_for(alice)).upload_file(path_or_fileobj=data, path_in_repo="w.safetensors", repo_id="alice/up")

    assert get_storage().exists(hashlib.sha256(data).hexdigest())
    assert Path(hf_hub_download("alice/up", "w.safetensors")).read_bytes() == data
    listing = s3_store.client().list_objects_v2(Bucket=BUCKET, Prefix=f"{get_storage().prefix}uploads/")
    assert listing.get("Contents", []) == []  # the staged copy is gone once verified


def test_multipart_upload_goes_to_the_store_in_parts(hub, alice, lfs_client, settings, s3_store):
    settings.GATEHOUSE_LFS_MULTIPART_THRESHOLD = 1024 * 1024
    settings.GATEHOUSE_LFS_CHUNK_SIZE = 1024 * 1024  # raised to S3's smallest part, 5 MiB
    data = os.urandom(11 * 1024 * 1024)
    make_repo(alice, "parts")
    oid = hashlib.sha256(data).hexdigest()

    action = _batch(hub, token_for(alice), "alice/parts", oid, len(data), ("basic", "multipart"))["actions"]["upload"]
    assert action["header"]["chunk_size"] == str(5 * 1024 * 1024) and "3" in action["header"]
    assert all(action["header"][n].startswith(s3_store.endpoint) for n in ("1", "2", "3"))
    HfApi(token=token_for(alice)).upload_file(path_or_fileobj=data, path_in_repo="w.safetensors", repo_id="alice/parts")

    assert Path(hf_hub_download("alice/parts", "w.safetensors")).read_bytes() == data


def test_a_client_that_lies_about_its_bytes_gets_a_clear_error_and_nothing_committable(hub, client, alice, s3_store):
    repo = make_repo(alice, "liar")
    token = token_for(alice)
    claimed = os.urandom(4096)
    oid = hashlib.sha256(claimed).hexdigest()
    href = _batch(hub, token, "alice/liar", oid, 4096)["actions"]["upload"]["href"]
    assert href.startswith(s3_store.endpoint + "/")

    assert httpx2.put(href, content=os.urandom(4097)).status_code == 403  # larger than declared: the store refuses
    assert httpx2.put(href, content=os.urandom(4096)).status_code == 200  # other bytes of the declared size
    refused = _verify(hub, token, "alice/liar", oid, 4096)

    assert refused.status_code == 400 and "does not match" in refused.json()["error"]
    assert not get_storage().exists(oid) and not RepoObject.objects.filter(repo=repo, sha256=oid).exists()
    commit = post_commit(client, token, "alice/liar", [lfs_file("w.safetensors", oid, 4096)])
    assert commit.status_code == 400
    assert _verify(hub, token, "alice/liar", oid, 4096).status_code == 404  # the staged bytes are gone


def test_abandoned_staged_uploads_and_open_multipart_uploads_are_cleaned(hub, alice, settings, s3_store):
    settings.GATEHOUSE_LFS_MULTIPART_THRESHOLD = 1024 * 1024
    make_repo(alice, "abandoned")
    token = token_for(alice)
    single = os.urandom(4096)
    href = _batch(hub, token, "alice/abandoned", hashlib.sha256(single).hexdigest(), 4096)["actions"]["upload"]["href"]
    assert httpx2.put(href, content=single).status_code == 200  # never verified
    _batch(hub, token, "alice/abandoned", hashlib.sha256(b"x").hexdigest(), 6 << 20, ("multipart",))  # never sent
    store, prefix = s3_store.client(), get_storage().prefix
    store.put_object(Bucket=BUCKET, Key=f"{prefix}verifying/{'a' * 32}", Body=single)  # a crashed verification's
    assert store.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}uploads/")["KeyCount"] == 1
    assert len(store.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", [])) == 1

    collect_garbage(grace=timedelta(0))

    assert store.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}uploads/")["KeyCount"] == 0
    assert store.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}verifying/")["KeyCount"] == 0
    assert store.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", []) == []


def _cut_put(url: str, body: bytes, *, sent: int) -> None:
    """A part PUT whose connection drops after `sent` bytes of its body (a client that died)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        head = f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Length: {len(body)}\r\n\r\n"
        sock.sendall(head.encode() + body[:sent])


def test_a_multipart_upload_cut_mid_part_resumes_by_sending_that_part_again(hub, client, alice, settings, s3_store):
    settings.GATEHOUSE_LFS_MULTIPART_THRESHOLD = 1024 * 1024
    settings.GATEHOUSE_LFS_CHUNK_SIZE = 1024 * 1024  # raised to S3's smallest part, 5 MiB
    part = 5 * 1024 * 1024
    data = os.urandom(2 * part + 100)
    oid = hashlib.sha256(data).hexdigest()
    make_repo(alice, "cut")
    token = token_for(alice)
    action = _batch(hub, token, "alice/cut", oid, len(data), ("multipart",))["actions"]["upload"]
    urls = [action["header"][str(number)] for number in (1, 2, 3)]
    pieces = [data[i * part : (i + 1) * part] for i in range(3)]
    first = httpx2.put(urls[0], content=pieces[0]).headers["ETag"]

    _cut_put(urls[1], pieces[1], sent=part // 2)  # part 2 dies half way
    early = httpx2.post(action["href"], json={"oid": oid, "parts": [{"partNumber": 1, "etag": first}]})
    assert early.status_code == 400  # parts missing: nothing completed, nothing committable
    assert not get_storage().exists(oid)
    parts = [{"partNumber": 1, "etag": first}, {"partNumber": 2, "etag": "x"}, "junk"]  # (found by a review: a 500)
    assert httpx2.post(action["href"], json={"oid": oid, "parts": parts}).status_code == 400
    etags = [
        first,
        *(httpx2.put(url, content=piece).headers["ETag"] for url, piece in zip(urls[1:], pieces[1:], strict=True)),
    ]
    done = httpx2.post(
        action["href"], json={"oid": oid, "parts": [{"partNumber": n, "etag": e} for n, e in enumerate(etags, 1)]}
    )

    assert done.status_code == 200, done.text
    assert get_storage().exists(oid)
    commit = post_commit(client, token, "alice/cut", [lfs_file("w.bin", oid, len(data))])
    assert commit.status_code == 200, commit.text
    assert Path(hf_hub_download("alice/cut", "w.bin", token=token)).read_bytes() == data


def test_a_multipart_liar_is_refused_and_a_finished_upload_cannot_be_rewritten(hub, client, alice, settings, s3_store):
    settings.GATEHOUSE_LFS_MULTIPART_THRESHOLD = 1024 * 1024
    settings.GATEHOUSE_LFS_CHUNK_SIZE = 1024 * 1024  # raised to S3's smallest part, 5 MiB
    part = 5 * 1024 * 1024
    data = os.urandom(2 * part + 100)
    oid = hashlib.sha256(data).hexdigest()
    repo = make_repo(alice, "mpliar")
    token = token_for(alice)
    store, prefix = s3_store.client(), get_storage().prefix

    def send(action: dict, pieces: list[bytes]):
        etags = [httpx2.put(action["header"][str(n)], content=p).headers["ETag"] for n, p in enumerate(pieces, 1)]
        parts = [{"partNumber": n, "etag": etag} for n, etag in enumerate(etags, 1)]
        return httpx2.post(action["href"], json={"oid": oid, "parts": parts})

    lying = _batch(hub, token, "alice/mpliar", oid, len(data), ("multipart",))["actions"]["upload"]
    honest = _batch(hub, token, "alice/mpliar", oid, len(data), ("multipart",))["actions"]["upload"]
    assert urlsplit(lying["header"]["1"]).path != urlsplit(honest["header"]["1"]).path  # a staging key per upload
    assert httpx2.put(lying["header"]["3"], content=os.urandom(101)).status_code == 403  # not the signed size
    refused = send(lying, [data[:part], os.urandom(part), data[2 * part :]])  # other bytes of the declared sizes

    assert refused.status_code == 400 and "does not match" in refused.json()["error"]
    assert not get_storage().exists(oid) and not RepoObject.objects.filter(repo=repo, sha256=oid).exists()
    assert store.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}uploads/")["KeyCount"] == 0
    assert [u["Key"] for u in store.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", [])] == [
        urlsplit(honest["header"]["1"]).path.split(f"/{BUCKET}/", 1)[1]
    ]  # the content address's copy was aborted; only the honest upload is open
    assert post_commit(client, token, "alice/mpliar", [lfs_file("w.bin", oid, len(data))]).status_code == 400

    pieces = [data[:part], data[part : 2 * part], data[2 * part :]]
    etags = [httpx2.put(honest["header"][str(n)], content=p).headers["ETag"] for n, p in enumerate(pieces, 1)]
    completion = {"oid": oid, "parts": [{"partNumber": n, "etag": etag} for n, etag in enumerate(etags, 1)]}
    assert httpx2.post(honest["href"], json=completion).status_code == 200
    assert httpx2.post(honest["href"], json=completion).status_code == 404  # sent again: already finished
    # SECURITY: the completed upload's part URLs are dead: its bytes cannot be swapped after the hash.
    assert httpx2.put(honest["header"]["2"], content=os.urandom(part)).status_code == 404
    assert store.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix).get("Uploads", []) == []
    assert post_commit(client, token, "alice/mpliar", [lfs_file("w.bin", oid, len(data))]).status_code == 200
    assert Path(hf_hub_download("alice/mpliar", "w.bin", token=token)).read_bytes() == data


def test_a_multipart_upload_signed_before_its_own_staging_key_still_completes(hub, alice, settings, s3_store):
    from registry.storage import s3uploads, uploads

    repo = make_repo(alice, "old")
    data = os.urandom(6 * 1024 * 1024)
    oid = hashlib.sha256(data).hexdigest()
    store = s3_store.client()
    key = s3uploads.staging_key(get_storage(), repo_id=repo.pk, user_id=alice.pk, oid=oid)  # the key it had then
    upload_id = store.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    etag = store.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=1, Body=data)["ETag"]
    grant = uploads.UploadGrant(user_id=alice.pk, repo_id=repo.pk, oid=oid, size=len(data), upload_id=upload_id)
    settings.GATEHOUSE_LFS_CHUNK_SIZE = len(data)

    done = httpx2.post(
        f"{hub}/lfs/objects/{oid}/complete?sig={grant.sign()}",
        json={"oid": oid, "parts": [{"partNumber": 1, "etag": etag}]},
    )

    assert done.status_code == 200, done.text
    assert get_storage().exists(oid) and RepoObject.objects.filter(repo=repo, sha256=oid).exists()
