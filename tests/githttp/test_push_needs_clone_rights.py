"""A push needs what a clone needs (found by an outsider attack on issue 18).

A pack's deltas may name any object the repo holds as their base, and a push's trees may name
held blobs: whether such a push was accepted told a caller without download rights what a gated,
withheld, license-locked (or, through a token that may only post, private) file holds, one guessed
byte at a time. Pushes and the push ref advertisement are now refused unless the caller could
clone the repo, before the pack is read; and a clone judges the license of every commit it carries,
whatever license the ref tips are under."""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib

import pytest

from gating.models import AccessRequest
from registry import services
from registry.git import gitobjects
from registry.models import Ref
from tests.licenses.conftest import LICENSE_V1, RAIL_CARD
from tests.support.builders import commit_files, make_repo, token_for

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = b'{"marker": "GATED-SECRET"}\n'
ZERO = "0" * 40


def _pkt(data: bytes) -> bytes:
    return b"%04x" % (len(data) + 4) + data


def _varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        if not number:
            return bytes([*out, byte])
        out.append(byte | 0x80)


def _ref_delta(base_oid: str, source_size: int, length: int) -> bytes:
    """A REF_DELTA object whose result is the first `length` bytes of its base."""
    delta = _varint(source_size) + _varint(length) + bytes([0x80 | 0x10, length])  # copy offset 0, `length` bytes
    header, size = bytearray(), len(delta)
    byte = (7 << 4) | (size & 15)
    size >>= 4
    while size:
        header.append(byte | 0x80)
        byte, size = size & 0x7F, size >> 7
    header.append(byte)
    return bytes(header) + bytes.fromhex(base_oid) + zlib.compress(delta)


def _pack(objects: list[bytes]) -> bytes:
    body = b"PACK" + struct.pack(">II", 2, len(objects)) + b"".join(objects)
    return body + hashlib.sha1(body).digest()  # noqa: S324 - git's pack checksum


def _push(client, path: str, token: str, old: str, pack: bytes):
    commands = _pkt(f"{old} {'1' * 40} refs/heads/main\0report-status\n".encode()) + b"0000"
    auth = "Basic " + base64.b64encode(f"git:{token}".encode()).decode()
    return client.post(
        f"/{path}/git-receive-pack",
        data=commands + pack,
        content_type="application/x-git-receive-pack-request",
        HTTP_AUTHORIZATION=auth,
    )


def test_a_push_tells_a_caller_without_download_rights_nothing_about_held_content(client, alice, bob):
    repo = make_repo(alice, "gated", {"config.json": SECRET})
    services.repo_settings_update(repo=repo, gated="manual", actor=alice)
    head = Ref.objects.get(repo=repo, name="refs/heads/main").commit_oid
    secret_oid = gitobjects.blob_id(SECRET)
    answers = []
    for guess in (SECRET[:5], b"xxxxx"):  # the right first five bytes, and a wrong guess
        first = _ref_delta(secret_oid, len(SECRET), 5)  # the secret's first five bytes
        second = _ref_delta(gitobjects.blob_id(guess), 5, 5)  # resolves only if the guess was right
        response = _push(client, "alice/gated", token_for(bob), head, _pack([first, second]))
        answers.append((response.status_code, response.content))
    assert answers[0] == answers[1]
    assert b"ask-access" in answers[0][1] or b"access" in answers[0][1]
    assert Ref.objects.get(repo=repo, name="refs/heads/main").commit_oid == head
    # Nor are its refs advertised for a push.
    auth = "Basic " + base64.b64encode(f"git:{token_for(bob)}".encode()).decode()
    refs = client.get("/alice/gated/info/refs", {"service": "git-receive-pack"}, HTTP_AUTHORIZATION=auth)
    assert refs.status_code == 403 and head.encode() not in refs.content
    # Granted access, bob may clone, so he may push (here refused for want of write access).
    AccessRequest.objects.create(repo=repo, user=bob, status="accepted")
    allowed = client.get("/alice/gated/info/refs", {"service": "git-receive-pack"}, HTTP_AUTHORIZATION=auth)
    assert allowed.status_code == 200 and head.encode() in allowed.content


def test_a_clone_judges_the_license_of_its_whole_history(git, alice, bob, tmp_path):
    """Relicensed from RAIL to MIT: the RAIL-era commits are still in a full clone, and their
    files need the RAIL text's acceptance, as `/resolve` at those commits asks."""
    repo = make_repo(alice, "relicensed", {"README.md": RAIL_CARD, "LICENSE": LICENSE_V1, "config.json": SECRET})
    commit_files(repo, {"README.md": b"---\nlicense: mit\n---\n# relicensed\n"}, author=alice, summary="MIT now")
    refused = git.run("clone", git.url("alice/relicensed", token_for(bob, "read")), str(tmp_path / "c"), check=False)
    assert refused.returncode != 0 and "requires accepting its license" in refused.stderr
    shallow = git.run("clone", "--depth", "1", git.url("alice/relicensed", token_for(bob, "read")), str(tmp_path / "s"))
    assert shallow.returncode == 0  # the MIT tip alone carries no RAIL-era commit


def test_one_pack_is_read_at_a_time_per_process(client, alice, monkeypatch):
    """A pack's regular files are held inflated until its refs land: a second push waits for the
    first (here past a shortened wait, and refused with the reason), so two cannot add up."""
    from githttp import receive

    repo = make_repo(alice, "busy", {"config.json": b"{}\n"})
    head = Ref.objects.get(repo=repo, name="refs/heads/main").commit_oid
    monkeypatch.setattr(receive, "PACK_READER_WAIT", 0.1)
    assert receive._PACK_READER.acquire(timeout=5)  # a push in progress
    try:
        response = _push(client, "alice/busy", token_for(alice), head, _pack([]))
    finally:
        receive._PACK_READER.release()
    assert b"receiving other pushes" in response.content
    assert Ref.objects.get(repo=repo, name="refs/heads/main").commit_oid == head
