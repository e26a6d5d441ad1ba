"""Model cards to safe HTML: Markdown with raw HTML disabled, then sanitised with nh3.

SECURITY: two independent layers. markdown-it's `js-default` preset escapes raw HTML and refuses
javascript:/vbscript:/file: links; nh3 (ammonia) then keeps only an allowlist of tags and
attributes, so a bug in either layer alone does not let script through.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

from registry.modelcard import split_card

_md = MarkdownIt("js-default", {"linkify": False, "typographer": False}).enable("table")

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "details", "em", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "summary", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
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


def render_markdown(text: str) -> str:
    return sanitize(_md.render(text))


def render_card(text: str) -> str:
    """The card body (front matter removed) as sanitised HTML."""
    _, body = split_card(text)
    return render_markdown(body)
