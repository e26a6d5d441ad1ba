"""Model cards to safe HTML: Markdown with raw HTML disabled, then sanitised with nh3.

SECURITY: two independent layers. markdown-it's `js-default` preset escapes raw HTML and refuses
javascript:/vbscript:/file: links; nh3 (ammonia) then keeps only an allowlist of tags and
attributes, so a bug in either layer alone does not let script through.

SECURITY: rendering is bounded, since anyone may ask for a page that renders a card or comment.
markdown-it's guard against nested brackets (`maxNesting`, 100 in js-default) makes every
unmatched `[` walk up to that many cached positions of the text again: a 1 MiB README of `[`
took about a minute. `maxNesting` is CommonMark's 20 here, text past `max_bytes` is cut (with a
note), and each render has a CPU budget: past it, the text is shown escaped, unrendered.
"""

from __future__ import annotations

import html
import time

import nh3
from django.conf import settings
from markdown_it import MarkdownIt

from registry.cards.modelcard import split_card

# Part of the cache keys of rendered cards: bump it whenever the same text renders differently.
RENDERER_VERSION = 2

_md = MarkdownIt("js-default", {"linkify": False, "typographer": False, "maxNesting": 20}).enable("table")


class RenderBudgetExceeded(Exception):
    pass


def _check_budget(state, *args) -> bool:
    """A rule that matches nothing and runs before the others, block and inline, so that it is
    consulted all along a render: it stops one that has used its CPU budget."""
    deadline = state.env.get("cpu_deadline")
    if deadline is not None and time.thread_time() > deadline:
        raise RenderBudgetExceeded()
    return False


_md.block.ruler.before("table", "cpu_budget", _check_budget, {"alt": ["paragraph", "reference", "blockquote", "list"]})
_md.inline.ruler.before("text", "cpu_budget", _check_budget)

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "details",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"align"},
    "td": {"align"},
    "code": {"class"},
}


def sanitize(html: str) -> str:
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


def render_markdown(text: str, *, max_bytes: int | None = None, budget_s: float | None = None) -> str:
    """Sanitised HTML of at most `max_bytes` of `text` (GATEHOUSE_MARKDOWN_MAX_BYTES), rendered
    in at most `budget_s` CPU seconds (GATEHOUSE_MARKDOWN_BUDGET_S), or else shown as plain text."""
    max_bytes = settings.GATEHOUSE_MARKDOWN_MAX_BYTES if max_bytes is None else max_bytes
    budget_s = settings.GATEHOUSE_MARKDOWN_BUDGET_S if budget_s is None else budget_s
    text, cut = _cut(text, max_bytes)
    note = f'<p class="notice">Only the first {max_bytes} bytes are shown.</p>' if cut else ""  # no user text
    try:
        rendered = _md.render(text, {"cpu_deadline": time.thread_time() + budget_s})
    except RenderBudgetExceeded:
        note = '<p class="notice">This text is too complex to render; it is shown as plain text.</p>' + note
        rendered = f"<pre>{html.escape(text)}</pre>"
    return sanitize(rendered) + note


def _cut(text: str, max_bytes: int) -> tuple[str, bool]:
    if len(text) <= max_bytes // 4 or len(text.encode()) <= max_bytes:
        return text, False
    head = text.encode()[:max_bytes].decode("utf-8", "ignore")
    line_end = head.rfind("\n")
    return (head[: line_end + 1] if line_end > 0 else head), True


def render_card(text: str) -> str:
    """The card body (front matter removed) as sanitised HTML."""
    _, body = split_card(text)
    return render_markdown(body)
