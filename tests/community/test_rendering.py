"""Comments are Markdown rendered to sanitised HTML: scripts, event-handler attributes and
javascript: links come out inert, through the client and on the portal page alike."""

from html.parser import HTMLParser

import pytest
from django.test import Client
from huggingface_hub import HfApi

from tests.support.builders import token_for

pytestmark = pytest.mark.django_db(transaction=True)

HOSTILE = "\n\n".join(
    [
        "<script>alert('s')</script>",
        '<img src="x" onerror="alert(\'e\')">',
        "[click me](javascript:alert('j'))",
        "<a href=\"javascript:alert('a')\" onclick=\"alert('c')\">raw link</a>",
        "![pic](javascript:alert('i'))",
        "<svg onload=alert('v')></svg>",
        '<iframe src="https://evil.example"></iframe>',
        "Normal **bold** and a [good link](https://example.org).",
    ]
)


class _Elements(HTMLParser):
    """Every element and attribute a browser would build from the HTML."""

    def __init__(self):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


def _assert_inert(html: str) -> None:
    parser = _Elements()
    parser.feed(html)
    assert parser.elements, "nothing rendered"
    for tag, attrs in parser.elements:
        assert tag not in ("script", "iframe", "svg", "object", "embed", "style"), tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert not (value or "").strip().lower().startswith(("javascript:", "data:", "vbscript:")), (tag, value)


def test_hostile_comment_renders_inert(hub, model, bob):
    api = HfApi(token=token_for(bob))
    api.create_discussion("alice/model", "XSS", description="hi")
    comment = api.comment_discussion("alice/model", 1, HOSTILE)
    assert comment.content == HOSTILE  # the raw text is kept as written
    _assert_inert(comment.rendered)
    assert "<strong>bold</strong>" in comment.rendered
    assert '<a href="https://example.org" rel="nofollow noopener noreferrer">good link</a>' in comment.rendered
    assert "&lt;script&gt;" in comment.rendered  # shown as text, not run

    details = api.get_discussion_details("alice/model", 1)
    _assert_inert(details.events[1].rendered)

    page = Client().get("/alice/model/discussions/1").content.decode()
    body = page.split('data-testid="events"', 1)[1].split("</ol>", 1)[0]
    _assert_inert(body)
    assert "<strong>bold</strong>" in body


def test_hostile_title_is_escaped_on_the_portal(model, bob):
    from community import services

    services.discussion_create(repo=model, author=bob, title="<script>alert(1)</script>", description="x")
    for url in ("/alice/model/discussions?status=all", "/alice/model/discussions/1"):
        page = Client().get(url).content.decode()
        assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
