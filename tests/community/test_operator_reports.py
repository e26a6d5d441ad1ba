"""The operators' queue of reports across repos (issue 20): every open report of every live repo,
private ones included, with actions; a 404 to everyone else."""

import pytest

from community import services
from community.models import Report
from registry import services as registry_services
from tests.support.builders import UserFactory, make_repo

pytestmark = pytest.mark.django_db


@pytest.fixture
def reports(alice, bob):
    public, private, gone = make_repo(alice, "pub"), make_repo(alice, "priv", private=True), make_repo(alice, "gone")
    rows = {}
    for repo in (public, private, gone):
        thread = services.discussion_create(repo=repo, author=alice, title=f"about {repo.name}", description="hello")
        comment = services.comment_create(discussion=thread, author=alice, raw=f"SPAM-IN-{repo.name}")
        rows[repo.name] = services.report_create(discussion=thread, reporter=bob, reason="spam!", event=comment)
    resolved = services.report_create(discussion=thread, reporter=bob, reason="OLD-REPORT")
    services.report_resolve(report=resolved, moderator=alice)
    registry_services.repo_delete(repo=gone)
    return rows


def test_operators_see_every_open_report_and_act_on_it(client, reports):
    client.force_login(UserFactory(username="opal", is_staff=True))
    page = client.get("/admin/reports")
    assert page.status_code == 200 and page["Cache-Control"] == "private, no-store"
    assert b"SPAM-IN-pub" in page.content and b"SPAM-IN-priv" in page.content
    assert b"SPAM-IN-gone" not in page.content and b"OLD-REPORT" not in page.content
    assert b"/admin/takedowns?repo=alice/priv" in page.content

    client.post("/admin/reports", {"report": reports["priv"].pk, "action": "hide"})
    report = Report.objects.select_related("event").get(pk=reports["priv"].pk)
    assert report.resolved_at is not None and report.event.hidden_at is not None
    client.post("/admin/reports", {"report": reports["pub"].pk, "action": "resolve"})
    report = Report.objects.select_related("event").get(pk=reports["pub"].pk)
    assert report.resolved_at is not None and report.event.hidden_at is None
    assert b"No open reports." in client.get("/admin/reports").content


def test_the_queue_is_missing_to_everyone_else(client, alice, reports):
    assert client.get("/admin/reports").status_code == 302  # to the login page
    client.force_login(alice)  # the repos' owner, a moderator of each, but not an operator
    assert client.get("/admin/reports").status_code == 404
    assert client.post("/admin/reports", {"report": reports["pub"].pk, "action": "resolve"}).status_code == 404
    assert Report.objects.get(pk=reports["pub"].pk).resolved_at is None
