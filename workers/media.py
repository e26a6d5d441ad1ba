"""Where rendered previews live: a content-addressed store of their own, outside the blob store.

Preview images are not repo content, so the registry's garbage collector (which keeps blobs that
commits reference) must never see them; they reuse the blob store's crash-safe writer.
SECURITY: nothing here is served directly; views serve bytes only after a policy re-check.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from django.conf import settings

from registry.storage import LocalStorage


@lru_cache(maxsize=2)
def _store_for(root: str) -> LocalStorage:
    return LocalStorage(Path(root))


def preview_store() -> LocalStorage:
    return _store_for(str(settings.GATEHOUSE_PREVIEW_MEDIA_ROOT))
