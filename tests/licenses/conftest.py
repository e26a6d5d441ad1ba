"""Repos under a RAIL license, built through the real services."""

import pytest

from registry.models import Ref
from tests.support.builders import commit_files, make_repo, token_for

RAIL_CARD = b"""---
license: creativeml-openrail-m
library_name: diffusers
---
# Tiny RAIL model
"""
LICENSE_V1 = b"CreativeML Open RAIL-M\n\nVersion one of the terms. Use-based restrictions: see Attachment A.\n"
LICENSE_V2 = b"CreativeML Open RAIL-M\n\nVersion two of the terms. Use-based restrictions: see Attachment A and B.\n"


def head(repo) -> str:
    return Ref.objects.get(repo=repo, name="refs/heads/main").commit_oid


@pytest.fixture
def rail_repo(alice):
    return make_repo(alice, "rail", {"README.md": RAIL_CARD, "LICENSE": LICENSE_V1, "config.json": b'{"hidden": 8}'})


def change_license(repo, author, text: bytes = LICENSE_V2) -> str:
    commit_files(repo, {"LICENSE": text}, author=author, summary="new license terms")
    return head(repo)


@pytest.fixture
def bob_token(bob):
    return token_for(bob)
