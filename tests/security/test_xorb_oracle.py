"""The Xet CAS answers the same whether or not a xorb is already stored.

The attack: the xorb POST answered a known hash with `200 {"was_inserted": false}` without reading
a valid body, and an unknown one with a 400 for an empty body. Any user with a write token for a
repo of their own could so learn whether content (a gated file's xorb, whose hash follows from its
bytes) was on the server. Shards naming a stored xorb also got a different error than shards naming
an unknown one.
"""

import os
import re

import pytest
from django.test import Client

from tests.support import xet as xet_build
from tests.support.builders import make_repo, token_for
from tests.xet.conftest import Cas
from xet.models import Xorb

pytestmark = pytest.mark.django_db


@pytest.fixture
def cas():
    return Cas(Client())


@pytest.fixture
def stored(cas, alice):
    """A xorb of a private repo of Alice's, and a write token of Bob's for his own repo."""
    make_repo(alice, "secret", {"README.md": b"# s\n"}, private=True)
    chunks = [os.urandom(40_000), os.urandom(30_000)]
    xorb_hash, body = xet_build.xorb(chunks)
    assert cas.post_xorb(cas.write_token("alice/secret", token_for(alice)), xorb_hash, body).status_code == 200
    return xorb_hash, body, chunks


@pytest.fixture
def bob_token(cas, bob):
    make_repo(bob, "mine", {"README.md": b"# m\n"})
    return cas.write_token("bob/mine", token_for(bob))


def _shape(response, *hashes: str) -> tuple[int, str]:
    text = response.content.decode()
    for value in hashes:
        text = text.replace(value, "H")
    return response.status_code, re.sub(r"[0-9a-f]{64}", "H", text)


@pytest.mark.parametrize("body", [b"", b"not a xorb", bytes(100)], ids=["empty", "text", "zeros"])
def test_xorb_post_of_a_bad_body_answers_the_same_for_stored_and_unknown_hashes(cas, stored, bob_token, body):
    stored_hash = stored[0]
    unknown_hash, _ = xet_build.xorb([os.urandom(1000)])
    known = cas.post_xorb(bob_token, stored_hash, body)
    unknown = cas.post_xorb(bob_token, unknown_hash, body)
    assert known.status_code == 400
    assert _shape(known, stored_hash) == _shape(unknown, unknown_hash)


def test_xorb_post_of_a_valid_body_answers_the_same_for_stored_and_unknown_hashes(cas, stored, bob_token):
    stored_hash, body, _ = stored
    fresh_hash, fresh_body = xet_build.xorb([os.urandom(20_000)])
    again = cas.post_xorb(bob_token, stored_hash, body)
    first = cas.post_xorb(bob_token, fresh_hash, fresh_body)
    assert (again.status_code, again.json()) == (first.status_code, first.json()) == (200, {"was_inserted": True})
    assert Xorb.objects.filter(hash=stored_hash).count() == 1


def test_shard_naming_a_stored_xorb_answers_like_one_naming_an_unknown_xorb(cas, stored, bob_token):
    stored_hash, _, chunks = stored
    unknown_hash, _ = xet_build.xorb([os.urandom(1000), os.urandom(1000)])
    answers = []
    for xorb_hash in (stored_hash, unknown_hash):
        file_hash, content, terms = xet_build.file_of({xorb_hash: chunks}, [(xorb_hash, 0, 2)])
        forged = [(*terms[0][:4], bytes(32))]  # Bob does not know the chunk hashes: no verification
        response = cas.post_shard(bob_token, xet_build.shard([(file_hash, forged, xet_build.sha256(content))]))
        answers.append(_shape(response, xorb_hash, file_hash))
    assert answers[0][0] == 400
    assert answers[0] == answers[1]
