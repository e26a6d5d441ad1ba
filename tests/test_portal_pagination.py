"""The portal's long pages paginate (issue 15): a folder's files, the access-request queue and a
thread's comments show GATEHOUSE_PORTAL_PAGE_SIZE rows a page, with links to the others, so a
folder of 10,000 files or a queue of 200,000 requests renders a page, not everything."""

from __future__ import annotations

import re

import pytest

from community.services import discussions
from gating import services as gating_services
from registry import services
from tests.support.builders import UserFactory, make_repo

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_pages(settings):
    settings.GATEHOUSE_PORTAL_PAGE_SIZE = 4


def _names(html: bytes, pattern: str) -> list[str]:
    return re.findall(pattern, html.decode())


def test_a_folder_lists_one_page_of_files(client, alice):
    make_repo(alice, "many", {f"data/f{i}.txt": f"{i}\n".encode() for i in range(10)} | {"data/sub/x.txt": b"x"})
    first = client.get("/alice/many/tree/main/data")
    third = client.get("/alice/many/tree/main/data?page=3")
    assert first.status_code == third.status_code == 200
    listed_first = _names(first.content, r"/blob/main/data/(f\d+)\.txt\"")
    listed_third = _names(third.content, r"/blob/main/data/(f\d+)\.txt\"")
    assert b"/tree/main/data/sub" in first.content  # folders first
    assert listed_first == ["f0", "f1", "f2"] and listed_third == ["f7", "f8", "f9"]
    assert b"Page 1 of 3 (11 entries)" in first.content and b"?page=2" in first.content


def test_the_access_queue_lists_one_page_of_requests(client, alice):
    repo = make_repo(alice, "gated")
    repo = services.repo_settings_update(repo=repo, gated="manual", actor=alice)
    for i in range(6):
        gating_services.access_request_create(
            repo=repo, user=UserFactory(username=f"asker{i}"), answers={}, has_role=False
        )
    client.force_login(alice)
    first = client.get("/alice/gated/access-requests?status=pending")
    second = client.get("/alice/gated/access-requests?status=pending&page=2")
    on_first = _names(first.content, r'data-testid="request-(asker\d)"')
    on_second = _names(second.content, r'data-testid="request-(asker\d)"')
    assert len(on_first) == 4 and len(on_second) == 2
    assert sorted(on_first + on_second) == [f"asker{i}" for i in range(6)]
    assert b'data-testid="queue-pager"' in first.content and b"status=pending&amp;q=&page=2" in first.content


def test_a_thread_lists_one_page_of_comments(client, alice):
    repo = make_repo(alice, "talk")
    thread = discussions.discussion_create(repo=repo, author=alice, title="Long", description="remark 0")
    for i in range(1, 6):
        discussions.comment_create(discussion=thread, author=alice, raw=f"remark {i}")
    newest = client.get("/alice/talk/discussions/1")  # the opening post, then the newest page
    first = client.get("/alice/talk/discussions/1?page=1")
    second = client.get("/alice/talk/discussions/1?page=2")
    assert _names(newest.content, r"remark (\d)") == ["0", "4", "5"]
    assert _names(first.content, r"remark (\d)") == ["0", "1", "2", "3"]
    assert _names(second.content, r"remark (\d)") == ["0", "4", "5"]
    assert b'data-testid="thread-pager"' in first.content
