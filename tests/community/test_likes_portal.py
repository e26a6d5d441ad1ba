"""The like button of repo pages (issue 16): the count and the viewer's state in the header, a
POST that likes or unlikes through the same services and policy gate as the API."""

import pytest
from django.test import Client

from community.models import Like
from tests.support.builders import UserFactory, make_repo

pytestmark = pytest.mark.django_db


def _count(page) -> str:
    html = page.content.decode()
    start = html.index('data-testid="like-count">') + len('data-testid="like-count">')
    return html[start : html.index("<", start)]


def test_a_signed_in_user_likes_and_unlikes_from_the_repo_page():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    repo = make_repo(alice, "tiny", {"README.md": b"# tiny\n"})
    client = Client()
    client.force_login(bob)
    assert _count(client.get("/alice/tiny")) == "0"

    liked = client.post("/alice/tiny/like", {"action": "like"})
    assert (liked.status_code, liked["Location"]) == (302, "/alice/tiny")
    page = client.get("/alice/tiny")
    assert _count(page) == "1" and b'value="unlike"' in page.content
    client.post("/alice/tiny/like", {"action": "like"})  # twice changes nothing
    assert Like.objects.filter(repo=repo).count() == 1

    client.post("/alice/tiny/like", {"action": "unlike"})
    assert _count(client.get("/alice/tiny")) == "0" and not Like.objects.filter(repo=repo).exists()
    client.post("/alice/tiny/like", {"action": "sideways"})
    assert not Like.objects.filter(repo=repo).exists()


def test_anonymous_is_sent_to_sign_in_and_a_private_repo_looks_missing():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    make_repo(alice, "tiny", {"README.md": b"# tiny\n"})
    private = make_repo(alice, "secret", {"README.md": b"# secret\n"}, private=True)
    anonymous = Client().post("/alice/tiny/like", {"action": "like"})
    assert (
        anonymous.status_code == 302
        and "/login" in anonymous["Location"]
        and "next=/alice/tiny" in anonymous["Location"]
    )

    stranger = Client()
    stranger.force_login(bob)
    refused = stranger.post("/alice/secret/like", {"action": "like"})
    missing = stranger.post("/alice/no-such-repo/like", {"action": "like"})
    assert refused.status_code == missing.status_code == 404
    assert not Like.objects.filter(repo=private).exists()
