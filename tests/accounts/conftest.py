import re

import pytest

from accounts.models import User
from tests.support.mail import capturing

LINK = re.compile(r"https?://\S+")


@pytest.fixture(autouse=True)
def _fresh_counters():
    """Sign-up and password reset throttles count in the cache: each test starts from zero."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def mails(mailoutbox, django_capture_on_commit_callbacks):
    """`with mails() as sent:` lists every mail the block sends, through the real path: the
    outbox row is written in the request's transaction, published when it commits, and the
    Celery task (run in-process) renders and sends it to Django's locmem backend."""
    return capturing(mailoutbox, django_capture_on_commit_callbacks)


def link_in(message) -> str:
    links = LINK.findall(message.body)
    assert len(links) == 1, message.body
    return links[0]


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


@pytest.fixture
def signed_up(client, mails, db):
    """Sign `name` up through the form (open mode); the new user and their verification link."""

    def sign_up(name: str = "dora", email: str | None = None):
        form = {"username": name, "email": email or f"{name}@example.org", "password": "a-long-enough-passphrase"}
        with mails() as sent:
            response = client.post("/signup", form)
        assert response.status_code == 302, response.content
        assert [m.to for m in sent] == [[form["email"]]]
        return User.objects.get(username=name), link_in(sent[0])

    return sign_up
