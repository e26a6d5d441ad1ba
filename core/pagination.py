"""GitHub-style `Link: <absolute url>; rel="next"` pagination, as the Hub client expects."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from urllib.parse import quote

from core.errors import BadRequest

# SECURITY: past any listing, and within PostgreSQL's bigint OFFSET (a larger one was a 500).
MAX_OFFSET = 2**31 - 1


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        offset = int(json.loads(base64.urlsafe_b64decode(padded))["o"])
    except (ValueError, KeyError, TypeError, RecursionError, OverflowError) as exc:  # OverflowError: {"o": Infinity}
        raise BadRequest("Invalid cursor") from exc
    if not 0 <= offset <= MAX_OFFSET:
        raise BadRequest("Invalid cursor")
    return offset


def next_page_link(request, offset: int) -> str:
    """An absolute URL (the client rejects relative ones) that repeats every query parameter."""
    query = request.GET.copy()
    query["cursor"] = encode_cursor(offset)
    url = request.build_absolute_uri(quote(request.path)) + "?" + query.urlencode()
    return f'<{url}>; rel="next"'


def page_bounds(request, *, default_size: int, max_size: int) -> tuple[int, int]:
    """(offset, size) from `cursor` and `limit`; bad values are a 400, never a 500."""
    offset = decode_cursor(request.GET.get("cursor"))
    raw_limit = request.GET.get("limit")
    size = default_size
    if raw_limit not in (None, ""):
        try:
            size = int(raw_limit)
        except ValueError as exc:
            raise BadRequest("limit must be an integer") from exc
        if size < 1:
            raise BadRequest("limit must be positive")
    return offset, min(size, max_size)


def page_offset(raw: str | None, *, size: int, first: int = 0) -> int:
    """The offset of page `raw` (numbered from `first`; lower numbers mean the first page) of
    `size` rows; a page that is not a number, or past MAX_OFFSET, is a 400, never a 500."""
    try:
        page = max(int(raw), first) if raw else first
    except ValueError as exc:  # not a number, or thousands of digits
        raise BadRequest(f"The page must be a number from {first}.") from exc
    if (page - first) * size > MAX_OFFSET:
        raise BadRequest(f"The page must be a number from {first} to {first + MAX_OFFSET // size}.")
    return (page - first) * size


@dataclass(frozen=True)
class SlicePage:
    """A page of a long list read as one slice of `size + 1` rows: whether a next page exists
    without counting the list (COUNT over a queue of 200,000 requests costs more than the page)."""

    object_list: list
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    def __iter__(self):
        return iter(self.object_list)


def slice_page(rows, raw_page: str | None, *, size: int) -> SlicePage:
    """Page `raw_page` (from 1) of `rows` (a queryset or a list) without counting them."""
    offset = page_offset(raw_page, size=size, first=1)
    found = list(rows[offset : offset + size + 1])
    return SlicePage(object_list=found[:size], number=offset // size + 1, has_next=len(found) > size)
