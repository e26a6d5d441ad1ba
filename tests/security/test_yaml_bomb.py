"""The YAML alias bomb (issue 14): a few hundred bytes of card metadata whose nested aliases
name millions of nodes. `yaml.safe_load` shares them, so it was cheap; everything that walked the
result (JSON encoding for the answer, storing card_data, model_info) expanded each level tenfold.
A 378-byte card posted anonymously to /api/validate-yaml cost 5.5 s and ~1 GB.

The levels here stop at a million nodes, so that the attack stays cheap against the old code
too (these tests must be able to fail there, not hang)."""

import time

import pytest
from django.test import Client

from core import boundedyaml
from registry import services
from registry.models import Repo
from tests.support.builders import commit_files, make_repo, token_for
from tests.support.commit_api import inline_file, post_commit

pytestmark = pytest.mark.django_db


def _bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    return "\n".join(lines)


CARD = f"---\nlicense: mit\n{_bomb(6)}\n---\n# A model\n".encode()


def test_the_bomb_posted_anonymously_to_validate_yaml_is_refused_quickly():
    started = time.process_time()
    response = Client().post("/api/validate-yaml", {"content": CARD.decode()}, content_type="application/json")
    assert time.process_time() - started < 0.5
    assert response.status_code == 400
    message = response.json()["errors"][0]["message"]
    assert "aliases (*a0) are not allowed" in message


def test_the_full_sized_bomb_is_refused_before_anything_expands():
    """Nine levels: a billion nodes if anything walked them."""
    started = time.process_time()
    with pytest.raises(boundedyaml.YAMLRefused):
        boundedyaml.load(_bomb(9))
    assert time.process_time() - started < 0.1


@pytest.mark.parametrize(
    ("front_matter", "reason"),
    [
        ("tags: " + "[" * 5000 + "]" * 5000, "nested deeper than 64 levels"),  # RecursionError before
        ("tags: [" + ", ".join(["x"] * 60_000) + "]", "more than 50000 nodes"),
        ("thumbnail: " + "x" * 300_000, "larger than 262144 bytes"),
    ],
)
def test_validate_yaml_refuses_cards_past_the_bounds(front_matter, reason):
    content = f"---\n{front_matter}\n---\n"
    response = Client().post("/api/validate-yaml", {"content": content}, content_type="application/json")
    assert response.status_code == 400
    assert reason in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("value", ["1" * 5000, "2001-13-45", ".inf", "1.0e+99999"])
def test_values_yaml_reads_but_json_cannot_hold_are_a_400_not_a_500(value):
    """A 5,000-digit integer and month 13 raised ValueError out of PyYAML; infinity reached JSONField."""
    content = f"---\nthumbnail_size: {value}\n---\n"
    response = Client().post("/api/validate-yaml", {"content": content}, content_type="application/json")
    assert response.status_code == 400
    assert "README.md metadata" in response.json()["errors"][0]["message"]


def _commit_readme(client: Client, token: str, repo_id: str, readme: bytes, *, create_pr: bool = False):
    return post_commit(client, token, repo_id, [inline_file("README.md", readme)], summary="card", create_pr=create_pr)


@pytest.mark.parametrize("create_pr", [False, True])
def test_a_commit_of_a_bomb_card_is_refused_with_a_400_naming_the_card(alice, bob, create_pr):
    repo = make_repo(alice, "model", {"README.md": b"# Model\n"})
    author = bob if create_pr else alice
    commits = repo.commits.count()
    response = _commit_readme(Client(), token_for(author), repo.repo_id, CARD, create_pr=create_pr)
    assert response.status_code == 400
    assert "README.md metadata refused: aliases" in response.json()["error"]
    assert repo.commits.count() == commits


def test_a_bomb_card_committed_by_an_older_version_degrades_everywhere_it_is_read(alice, client, monkeypatch):
    """Cards committed before the check: pages and APIs answer, without the card's metadata."""
    monkeypatch.setattr("registry.services.commits.check_card_at", lambda **kwargs: None, raising=False)
    repo = make_repo(alice, "bombed", {"README.md": CARD})
    Repo.objects.filter(pk=repo.pk).update(card_data={"stale": True})  # whatever the old code stored
    started = time.process_time()
    page = client.get("/alice/bombed")
    info = client.get("/api/models/alice/bombed")
    license_page = client.get("/api/models/alice/bombed/license")
    assert time.process_time() - started < 2
    assert page.status_code == 200
    assert b"A model" in page.content
    assert info.status_code == 200
    assert "cardData" not in info.json()
    assert license_page.status_code in (200, 404)
    # The next commit that leaves the card alone is not refused for it, and refreshes card_data.
    commit_files(repo, {"config.json": b"{}"}, author=alice)
    repo.refresh_from_db()
    assert repo.card_data == {}
    services.repo_settings_update(repo=repo, gated="auto")  # the gating form reads the card too
    assert client.get("/alice/bombed").status_code == 200
