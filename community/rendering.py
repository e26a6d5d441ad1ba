"""Comment HTML: rendered from Markdown (registry.cards.markdown: markdown-it js-default, then nh3)
once when a comment is written and stored beside its text, stamped with the renderer's version
and bounds. A stored rendering is used only while its stamp is the current one, so a sanitiser fix
(which bumps markdown.RENDERER_VERSION) or new bounds apply to every stored comment: stale rows are
rendered on read through the shared cache, as every comment was before, until backfilled."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from registry.cards import markdown


def html_version() -> str:
    """The stamp of a rendering made now: renderer version and the bounds it was made under."""
    return f"{markdown.RENDERER_VERSION}:{settings.GATEHOUSE_MARKDOWN_MAX_BYTES}:{settings.GATEHOUSE_MARKDOWN_BUDGET_S}"


def comment_html(raw: str) -> tuple[str, str]:
    """(html, stamp) of a comment's text, to store with it at write time."""
    return markdown.render_markdown(raw), html_version()


def _html_key(raw: str) -> str:  # not memoised: a process must not keep comment texts as keys
    return f"comment-html:{html_version()}:{hashlib.sha256(raw.encode()).hexdigest()}"


def render_comment(raw: str) -> str:
    """HTML of a comment: a function of its text alone, so cached in the shared cache (rendering
    is bounded, not free: once per text, not once per process)."""
    return render_comments([raw])[raw]


def render_comments(raws: Iterable[str]) -> dict[str, str]:
    """HTML of many comments (by text) in one round trip to the shared cache, not one per comment."""
    keys = {_html_key(raw): raw for raw in set(raws)}
    if not keys:
        return {}
    found = cache.get_many(list(keys))
    missing = {key: markdown.render_markdown(raw) for key, raw in keys.items() if key not in found}
    if missing:
        cache.set_many(missing, settings.GATEHOUSE_RENDER_CACHE_SECONDS)
    return {raw: found[key] if key in found else missing[key] for key, raw in keys.items()}


def html_backfill(event_model, *, batch: int = 500, using: str = "default") -> int:
    """Store the HTML of every visible comment whose stamp is not the current one, `batch` rows a
    transaction (rows being edited meanwhile are skipped: the edit stores its own): an online pass
    over a table of any size, for migration 0003 (`event_model`: its historical model) and after a
    renderer change. Returns how many comments it rendered."""
    stamp, last, done = html_version(), 0, 0
    while True:
        with transaction.atomic(using=using):
            rows = list(
                event_model.objects.using(using)
                .select_for_update(skip_locked=True)
                .filter(type="comment", hidden_at__isnull=True, pk__gt=last)
                .exclude(html_version=stamp)
                .order_by("pk")
                .only("pk", "raw")[:batch]
            )
            if not rows:
                return done
            for row in rows:
                row.html, row.html_version = comment_html(row.raw)
            event_model.objects.using(using).bulk_update(rows, ["html", "html_version"])
        last, done = rows[-1].pk, done + len(rows)
