"""Bad Xet uploads are refused with 400 and leave nothing behind: no xorb, no file, no content."""

import os
import struct

import pytest

from registry.models import RepoObject, StoredObject
from registry.storage import get_xet_storage
from tests.support import xet as xet_build
from tests.support.builders import make_repo, token_for
from xet import format
from xet.models import XetFile, Xorb

pytestmark = pytest.mark.django_db


@pytest.fixture
def repo(alice):
    return make_repo(alice, "weights", {"README.md": b"# w\n"})


@pytest.fixture
def token(cas, repo, alice):
    return cas.write_token(repo.repo_id, token_for(alice))


@pytest.fixture
def chunks():
    """Fresh content per test: the blob store outlives each test's database transaction."""
    return [os.urandom(50_000), os.urandom(70_000), bytes(90_000) + os.urandom(8)]


def _nothing_stored(xorb_hash: str) -> None:
    assert not Xorb.objects.filter(hash=xorb_hash).exists()
    assert not get_xet_storage().exists(xorb_hash)
    assert list(get_xet_storage().tmp_dir.iterdir()) == []


def test_a_valid_xorb_is_stored_once(cas, token, chunks):
    xorb_hash, body = xet_build.xorb(chunks, compress=True)
    first = cas.post_xorb(token, xorb_hash, body)
    assert first.status_code == 200 and first.json() == {"was_inserted": True}
    # The same answer again (tests/security/test_xorb_oracle.py: no existence oracle), one row.
    assert cas.post_xorb(token, xorb_hash, body).json() == {"was_inserted": True}
    row = Xorb.objects.get(hash=xorb_hash)
    assert (row.n_chunks, row.unpacked_size, row.size) == (3, 210_008, len(body))


def test_xorb_whose_content_does_not_match_its_hash(cas, token, chunks):
    xorb_hash, _ = xet_build.xorb(chunks)
    _, other_body = xet_build.xorb([os.urandom(1000)])
    response = cas.post_xorb(token, xorb_hash, other_body)
    assert response.status_code == 400
    assert "hashes to" in response.json()["error"]
    _nothing_stored(xorb_hash)


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda body: body[:-10], id="truncated"),
        pytest.param(lambda body: body[:9] + bytes([body[9] ^ 0xFF]) + body[10:], id="flipped-byte"),
        pytest.param(lambda body: b"\x01" + body[1:], id="bad-header-version"),
        pytest.param(lambda body: body + b"garbage!", id="trailing-bytes"),
    ],
)
def test_corrupted_xorbs_are_refused(cas, token, corrupt, chunks):
    xorb_hash, body = xet_build.xorb(chunks, compress=True)
    response = cas.post_xorb(token, xorb_hash, corrupt(body))
    assert response.status_code == 400, response.content
    _nothing_stored(xorb_hash)


def test_chunk_declaring_a_wrong_uncompressed_length(cas, token):
    raw = os.urandom(1000)
    body = struct.pack("<B3sB3s", 0, (1000).to_bytes(3, "little"), 0, (999).to_bytes(3, "little")) + raw
    xorb_hash, _ = xet_build.xorb([raw])
    assert cas.post_xorb(token, xorb_hash, body).status_code == 400
    _nothing_stored(xorb_hash)


def test_malformed_hash_in_the_url(cas, token, chunks):
    _, body = xet_build.xorb(chunks)
    assert cas.post_xorb(token, "XYZ" * 20, body).status_code == 400


def test_negative_content_length_is_refused(cas, token, chunks):
    # The declared length is charged to contributors' quotas before the body is read.
    xorb_hash, body = xet_build.xorb(chunks)
    response = cas.client.generic(
        "POST", f"/cas/v1/xorbs/default/{xorb_hash}", body, HTTP_AUTHORIZATION=f"Bearer {token}", CONTENT_LENGTH="-5"
    )
    assert response.status_code == 400
    _nothing_stored(xorb_hash)


def _stored_xorb(cas, token, chunks):
    xorb_hash, body = xet_build.xorb(chunks)
    assert cas.post_xorb(token, xorb_hash, body).status_code == 200
    return xorb_hash


def _nothing_registered(file_hash: str, sha256: str) -> None:
    assert not XetFile.objects.filter(hash=file_hash).exists()
    assert not StoredObject.objects.filter(sha256=sha256).exists()
    assert not RepoObject.objects.filter(sha256=sha256).exists()


def test_shard_referencing_a_missing_xorb(cas, token, chunks):
    xorb_hash, _ = xet_build.xorb(chunks)  # never uploaded
    file_hash, content, terms = xet_build.file_of({xorb_hash: chunks}, [(xorb_hash, 0, 3)])
    sha256 = xet_build.sha256(content)
    response = cas.post_shard(token, xet_build.shard([(file_hash, terms, sha256)]))
    assert response.status_code == 400
    assert "never uploaded" in response.json()["error"]
    _nothing_registered(file_hash, sha256)


def test_shard_with_a_wrong_file_hash(cas, token, chunks):
    xorb_hash = _stored_xorb(cas, token, chunks)
    _, content, terms = xet_build.file_of({xorb_hash: chunks}, [(xorb_hash, 0, 3)])
    wrong, _, _ = xet_build.file_of({xorb_hash: chunks}, [(xorb_hash, 0, 2)])
    response = cas.post_shard(token, xet_build.shard([(wrong, terms, xet_build.sha256(content))]))
    assert response.status_code == 400
    _nothing_registered(wrong, xet_build.sha256(content))


def test_shard_with_a_wrong_verification_hash(cas, token, chunks):
    xorb_hash = _stored_xorb(cas, token, chunks)
    file_hash, content, terms = xet_build.file_of({xorb_hash: chunks}, [(xorb_hash, 0, 3)])
    terms = [(*terms[0][:4], bytes(32))]
    response = cas.post_shard(token, xet_build.shard([(file_hash, terms, xet_build.sha256(content))]))
    assert response.status_code == 400
    assert "never uploaded" in response.json()["error"]  # as for an unknown xorb: no oracle
    _nothing_registered(file_hash, xet_build.sha256(content))


def test_shard_with_chunks_outside_the_xorb(cas, token, chunks):
    xorb_hash = _stored_xorb(cas, token, chunks)
    file_hash, content, terms = xet_build.file_of({xorb_hash: chunks}, [(xorb_hash, 0, 3)])
    terms = [(xorb_hash, 0, 4, terms[0][3], terms[0][4])]
    assert cas.post_shard(token, xet_build.shard([(file_hash, terms, xet_build.sha256(content))])).status_code == 400


def test_shard_claiming_the_sha256_of_other_content(cas, token, bob, chunks):
    """SECURITY: the sha256 links a Xet file to LFS content by hash; a lie would let the uploader
    commit (and download) whatever content has that sha256, such as a gated repo's weights."""
    victim = make_repo(bob, "secret", {"weights.bin": os.urandom(2_000_000)}, private=True)
    secret_sha = StoredObject.objects.exclude(sha256__in=[]).order_by("-size").values_list("sha256", flat=True)[0]
    assert RepoObject.objects.filter(repo=victim, sha256=secret_sha).exists()
    xorb_hash = _stored_xorb(cas, token, chunks)
    file_hash, _content, terms = xet_build.file_of({xorb_hash: chunks}, [(xorb_hash, 0, 3)])
    response = cas.post_shard(token, xet_build.shard([(file_hash, terms, secret_sha)]))
    assert response.status_code == 400
    assert "sha256" in response.json()["error"]
    assert not XetFile.objects.filter(hash=file_hash).exists()
    assert list(RepoObject.objects.filter(sha256=secret_sha).values_list("repo", flat=True)) == [victim.pk]
    assert StoredObject.objects.get(sha256=secret_sha).xet_hash == ""


def test_malformed_shards(cas, token, chunks):
    xorb_hash = _stored_xorb(cas, token, chunks)
    file_hash, content, terms = xet_build.file_of({xorb_hash: chunks}, [(xorb_hash, 0, 3)])
    good = xet_build.shard([(file_hash, terms, xet_build.sha256(content))])
    for bad in (b"", b"not a shard", good[:-48], good + b"x", b"X" + good[1:]):
        assert cas.post_shard(token, bad).status_code == 400
    assert not XetFile.objects.exists()
    assert cas.post_shard(token, good).json() == {"result": 1}
    assert cas.post_shard(token, good).json() == {"result": 0}


def test_unknown_cas_routes_are_json_404s(client, token, chunks):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for method, path in [
        ("GET", "/cas/v1/chunks/default/" + "0" * 64),
        ("POST", "/cas/v1/xorb-grants/default/" + "0" * 64),
        ("GET", "/cas/v2/file-chunk-hashes/" + "0" * 64),
        ("POST", "/cas/v1/reconstructions"),  # the batch query
    ]:
        response = client.generic(method, path, b"{}", **headers)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"


def test_format_limits_are_enforced(cas, token):
    too_many = [b"x"] * (format.MAX_XORB_CHUNKS + 1)
    xorb_hash, body = xet_build.xorb(too_many)
    assert cas.post_xorb(token, xorb_hash, body).status_code == 400
    _nothing_stored(xorb_hash)


def test_a_footer_may_end_a_xorb(cas, token, chunks):
    xorb_hash, body = xet_build.xorb(chunks)
    footer = b"XETBLOB\x01" + format.string_to_hash(xorb_hash) + bytes(100) + (100).to_bytes(4, "little")
    assert cas.post_xorb(token, xorb_hash, body + footer).status_code == 200
    stored = Xorb.objects.get(hash=xorb_hash)
    assert stored.size == len(body)  # the footer is not stored: fetch ranges point into the chunks


def test_a_footer_of_an_unknown_version_is_refused(cas, token, chunks):
    xorb_hash, body = xet_build.xorb(chunks)
    assert cas.post_xorb(token, xorb_hash, body + b"XETBLOB\x07" + bytes(64)).status_code == 400
    _nothing_stored(xorb_hash)


def test_an_lz4_frame_that_lies_about_its_size_is_refused(cas, token):
    import lz4.frame

    raw = bytes(1000)
    bomb = lz4.frame.compress(bytes(4 * 1024 * 1024))  # a valid frame, far larger than declared
    body = struct.pack("<B3sB3s", 0, len(bomb).to_bytes(3, "little"), 1, len(raw).to_bytes(3, "little")) + bomb
    xorb_hash, _ = xet_build.xorb([raw])
    response = cas.post_xorb(token, xorb_hash, body)
    assert response.status_code == 400
    _nothing_stored(xorb_hash)


def test_a_shard_repeating_terms_past_the_file_size_limit_is_refused(cas, token, chunks, settings):
    xorb_hash = _stored_xorb(cas, token, chunks)
    _, content, terms = xet_build.file_of({xorb_hash: chunks}, [(xorb_hash, 0, 3)])
    settings.GATEHOUSE_MAX_FILE_SIZE = 10 * len(content)
    repeated = terms * 11
    response = cas.post_shard(token, xet_build.shard([("0" * 64, repeated, xet_build.sha256(content))]))
    assert response.status_code == 400
    assert "accepts files up to" in response.json()["error"]
    assert not XetFile.objects.exists()
