"""CPU amplification by anonymous GETs (issue 14): a pull request diff of two 100,000-line files
cost 36 s per GET (difflib on every request), and a repo page whose README is 1 MiB of `[` cost
about a minute (markdown-it). What derives from immutable ids is now cached (keyed by the repo
too), and the work of a request is bounded: size caps, and CPU budgets after which the rest is
shown unrendered or not yet diffed. bench/cpu_per_get.py measures the full-sized inputs."""

import gc
import json
import time

import pytest
from django.core.cache import cache
from django.test import Client

from bench.cpu_per_get import lines
from community import diffs
from community import services as community_services
from registry.cards import markdown
from tests.community.helpers import push
from tests.support.builders import commit_files, make_repo

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def _counting(monkeypatch, module, name: str) -> list:
    calls = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def _cpu_of_get(client: Client, url: str) -> tuple[float, bytes]:
    # A full collection of the long test session's heap can land in the request (0.2 s and more):
    # collected before, paused during, so the figure is the request's own.
    gc.collect()
    gc.disable()
    try:
        started = time.thread_time()  # the test client runs the view in this thread
        response = client.get(url)
        cost = time.thread_time() - started
    finally:
        gc.enable()
    assert response.status_code == 200
    return cost, response.content


def test_a_readme_of_brackets_costs_a_bounded_first_get_and_almost_nothing_after(alice):
    make_repo(alice, "brackets", {"README.md": b"[" * (1024 * 1024 - 1024)})
    first, page = _cpu_of_get(Client(), "/alice/brackets")
    later, again = _cpu_of_get(Client(), "/alice/brackets")
    assert first < 4  # about 60 s before; the budget is 1 s of rendering
    assert later < 0.5
    assert b"too complex to render" in page and b"Only the first 262144 bytes are shown" in page
    assert again == page


def test_a_card_is_rendered_once_per_repo_and_readme_blob(alice, monkeypatch):
    renders = _counting(monkeypatch, markdown, "render_card")
    repo = make_repo(alice, "one", {"README.md": b"# Card\n\nSome *text*.\n"})
    make_repo(alice, "two", {"README.md": b"# Card\n\nSome *text*.\n"})
    client = Client()
    for _ in range(3):
        assert b"<em>text</em>" in client.get("/alice/one").content
    assert len(renders) == 1
    commit_files(repo, {"config.json": b"{}"}, author=alice)  # a new commit, the same README blob
    assert b"<em>text</em>" in client.get("/alice/one").content
    assert len(renders) == 1
    assert b"<em>text</em>" in client.get("/alice/two").content  # the same blob in another repo
    assert len(renders) == 2


def test_markdown_past_the_size_cap_is_cut_and_past_the_budget_is_shown_escaped(settings):
    text = "# Title\n\n" + "word " * 1000 + "\n\n<script>alert(1)</script> [link](javascript:alert(1))\n"
    cut = markdown.render_markdown(text, max_bytes=1000)
    assert "<h1>Title</h1>" in cut and "Only the first 1000 bytes are shown" in cut and "script" not in cut
    plain = markdown.render_markdown(text, budget_s=0)
    assert "too complex to render" in plain and "<h1>" not in plain
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in plain and "<script>" not in plain


def _pull_request(repo, owner, before: dict[str, bytes], after: dict[str, bytes]):
    commit_files(repo, before, author=owner)
    pull = community_services.pull_request_open(repo=repo, author=owner, title="change", description="")
    push(repo, pull, after, author=owner)
    return pull


def test_the_diff_of_two_100000_line_files_is_cut_and_cheap(alice):
    repo = make_repo(alice, "long")
    pull = _pull_request(repo, alice, {"a.txt": lines(100_000)}, {"a.txt": lines(100_000, every=2)})
    first, page = _cpu_of_get(Client(), f"/alice/long/discussions/{pull.num}/files")
    assert first < 2  # 36 s before
    assert b"Diff not shown: more than 10000 lines (100000 before, 100000 after)." in page


def test_a_file_diff_is_computed_once_per_repo_and_blobs(alice, monkeypatch):
    computed = _counting(monkeypatch, diffs, "file_diff")
    files = ({"notes.txt": b"one\ntwo\n"}, {"notes.txt": b"one\nthree\n"})
    pulls = [_pull_request(make_repo(alice, name), alice, *files) for name in ("one", "two")]
    client = Client()
    for _ in range(3):
        assert b"+three" in client.get(f"/alice/one/discussions/{pulls[0].num}/files").content
        details = client.get(f"/api/models/alice/one/discussions/{pulls[0].num}?diff=1").json()
        assert "+three" in details["diff"]
    assert len(computed) == 1
    assert b"+three" in client.get(f"/alice/two/discussions/{pulls[1].num}/files").content
    assert len(computed) == 2  # another repo: its own proof, its own entry


def test_a_diff_past_its_cpu_budget_is_summarised_for_good_and_stops_the_request(alice, settings, monkeypatch):
    """Interleaved lines are difflib's quadratic case (3,000 lines: about 0.4 s)."""
    settings.GATEHOUSE_PR_DIFF_BUDGET_S = 0.05
    computed = _counting(monkeypatch, diffs, "file_diff")
    repo = make_repo(alice, "slow")
    before = {"a.txt": lines(3000), "b.txt": lines(3000)}
    pull = _pull_request(repo, alice, before, {"a.txt": lines(3000, every=2), "b.txt": lines(3000, every=2)})
    client, url = Client(), f"/api/models/alice/slow/discussions/{pull.num}?diff=1"
    # The thread's first request of this route pays for imports and caches (a flake in CI): not measured.
    _cpu_of_get(client, url.removesuffix("?diff=1"))
    cost, body = _cpu_of_get(client, url)
    diff = json.loads(body)["diff"]
    assert cost < 0.3
    assert "a.txt b/a.txt\n# Diff not shown: it takes too long to compute." in diff
    assert "b.txt b/b.txt\n# Diff not computed yet" in diff  # the request had used its budget
    diff = json.loads(_cpu_of_get(client, url)[1])["diff"]
    assert "b.txt b/b.txt\n# Diff not shown: it takes too long to compute." in diff
    _cpu_of_get(client, url)
    assert len(computed) == 2  # each file tried once; the verdicts are cached


def test_a_comment_is_rendered_once_across_processes(alice, monkeypatch):
    """Comment HTML lives in the shared cache only (community.serializers.render_comments): a
    second page view, as from another web process, renders nothing."""
    renders = _counting(monkeypatch, markdown, "render_markdown")
    repo = make_repo(alice, "talk")
    thread = community_services.discussion_create(repo=repo, author=alice, title="hi", description="*hello*")
    for _ in range(2):
        assert b"<em>hello</em>" in Client().get(f"/alice/talk/discussions/{thread.num}").content
    assert len(renders) == 1
