"""The authorization matrix (STYLE.md) over the repo settings page (/{repo}/settings): only the
repo's admins read or change it, under every gate mode; everyone else gets the answer of any admin
page (a private repo's outsiders its 404 of a missing repo), learns nothing, and nothing happens."""

import pytest
from django.test import Client

from community.models import CommunitySettings
from gating import release
from registry.models import Repo
from tests.support.matrix import STAGES, matrix_world

pytestmark = pytest.mark.django_db

CALLERS = ["anonymous", "stranger", "pending", "approved", "member", "owner"]


def _expected(mode: str, caller: str) -> int:
    if caller == "owner":
        return 200
    if mode == "private" and caller != "member":
        return 404
    return 404 if caller == "anonymous" else 403


@pytest.mark.parametrize("mode", ["public", "private"])
@pytest.mark.parametrize("caller", CALLERS)
def test_settings_page_matrix(mail_sent_by, mode, caller):
    repo, _org, owner, users = matrix_world()
    release.release_plan_set(repo=repo, actor=owner, stages=[STAGES[mode]])
    client = Client()
    if caller != "anonymous":
        client.force_login(users[caller])
    expected = _expected(mode, caller)
    with mail_sent_by() as sent:
        page = client.get("/acme/m/settings")
        posts = [
            client.post("/acme/m/settings", {"action": "delete", "confirm": "acme/m"}),
            client.post("/acme/m/settings", {"action": "move", "namespace": "acme", "name": "moved"}),
            client.post("/acme/m/settings", {"action": "disable-discussions"}),
        ]
    assert page.status_code == expected, (mode, caller)
    if expected == 200:
        assert b'data-testid="delete-form"' in page.content
        return
    assert b'data-testid="delete-form"' not in page.content and b"storage-usage" not in page.content
    if expected == 404:
        assert b"acme/m" not in page.content.replace(b"/acme/m/settings", b"")
    assert [post.status_code for post in posts] == [expected] * 3
    repo = Repo.objects.get()
    assert repo.repo_id == "acme/m" and repo.deleted_at is None
    assert not CommunitySettings.objects.exists()
    assert sent == []
