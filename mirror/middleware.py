"""Routes requests that name a mirrored namespace to the mirror's URLconf (mirror/urls.py).

SECURITY: decided by the path alone, before any view: a namespace is either local or mirrored,
so a local repo can never answer for a mirrored id and no local miss falls through upstream."""

from __future__ import annotations

import re

from django.conf import settings

from mirror.config import upstream_for_legacy_id, upstream_for_namespace

FIRST_NAMESPACE = re.compile(r"^/(?:api/(?:models|datasets)/|datasets/)?(?P<namespace>[^/]+)")


class MirrorRoutingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.GATEHOUSE_UPSTREAMS:
            match = FIRST_NAMESPACE.match(request.path_info)
            if match is not None and upstream_for_namespace(match["namespace"]) is not None:
                request.urlconf = "mirror.urls"
            elif match is not None and upstream_for_legacy_id(match["namespace"]) is not None:
                request.urlconf = "mirror.legacy_urls"  # `gpt2`: the first segment is the whole id
        return self.get_response(request)
