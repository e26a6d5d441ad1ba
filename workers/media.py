"""Where rendered previews live: a content-addressed store of their own, outside the blob store.

Preview images are not repo content, so the registry's garbage collector (which keeps blobs that
commits reference) must never see them; they reuse the blob store's crash-safe writer.
SECURITY: nothing here is served directly; views serve bytes only after a policy re-check.
"""

from __future__ import annotations

from django.conf import settings

from registry.storage import BlobStorage, storage_at


def preview_store() -> BlobStorage:
    return storage_at("previews", settings.GATEHOUSE_PREVIEW_MEDIA_ROOT)
