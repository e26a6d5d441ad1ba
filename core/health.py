"""Liveness and readiness (issue 17).

`/healthz` says the process answers, and nothing else: no database, no broker, so that a
supervisor does not restart web processes because PostgreSQL is down. `/readyz` says whether this
process can serve: 200 when the database, the broker and the storage answer, 503 otherwise. The
workers (beat's last tick, the last heartbeat a worker ran and how long it waited in the queue)
make it `degraded`, never unavailable: downloads do not need them.

SECURITY: the details (queue lengths, free bytes, error text) are for operators only: a signed-in
user with `User.is_operator`, or a caller on loopback with no proxy in between (a proxy that is
not declared in GATEHOUSE_TRUSTED_PROXY_HOPS shows as X-Forwarded-For, and then loopback does
not count). Anyone else gets the status word alone.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_http_methods
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from core import heartbeat
from core.api import AllowAnyone
from core.errors import CACHE_UNAVAILABLE
from core.http import address_unproven, client_ip

Check = dict[str, Any]


def queue_names() -> list[str]:
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values() if "queue" in route}
    return sorted({"celery", *routed})


def check_database() -> Check:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return {"ok": False, "vendor": connection.vendor, "error": type(exc).__name__}
    return {"ok": True, "vendor": connection.vendor, "ms": round((time.perf_counter() - started) * 1000, 2)}


def check_broker() -> Check:
    url = settings.CELERY_BROKER_URL
    if url.startswith("gatehouse-fs://"):
        return _check_folder_broker(Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
    if url.startswith(("redis://", "rediss://", "unix://")):
        return _check_redis_broker(url)
    if url.startswith("memory://"):
        return {"ok": True, "kind": "memory"}
    return {"ok": False, "kind": url.partition("://")[0], "error": "no readiness check for this broker"}


def _check_folder_broker(folder: Path) -> Check:
    if not os.access(folder, os.W_OK | os.X_OK):
        return {"ok": False, "kind": "gatehouse-fs", "error": f"queue folder not writable: {folder}"}
    now = time.time()
    queues: dict[str, Check] = {name: {"messages": 0, "oldest_seconds": None} for name in queue_names()}
    for entry in os.scandir(folder):
        queue = entry.name.partition(".")[2].removesuffix(".msg")
        if queue in queues and entry.name.endswith(".msg"):
            try:
                age = round(now - entry.stat().st_mtime, 1)
            except FileNotFoundError:
                continue  # consumed meanwhile
            info = queues[queue]
            info["messages"] += 1
            info["oldest_seconds"] = max(age, info["oldest_seconds"] or 0.0)
    return {"ok": True, "kind": "gatehouse-fs", "queues": queues}


def _check_redis_broker(url: str) -> Check:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.ping()
            queues = {name: {"messages": client.llen(name)} for name in queue_names()}
        finally:
            client.close()
    except redis.RedisError as exc:
        return {"ok": False, "kind": "redis", "error": type(exc).__name__}
    return {"ok": True, "kind": "redis", "queues": queues}


# Checks of remote stores, registered by the apps that own them (registry: the S3 bucket); core
# knows no storage backend.
storage_checks: list[Callable[[], Check]] = []


def check_storage() -> Check:
    for remote in storage_checks:
        found = remote()
        if not found["ok"]:
            return found
    root = Path(settings.GATEHOUSE_STORAGE_ROOT)
    try:
        root.mkdir(parents=True, exist_ok=True)  # a fresh install has none until its first upload
    except OSError as exc:
        return {"ok": False, "error": f"storage root unusable: {type(exc).__name__}"}
    if not os.access(root, os.W_OK | os.X_OK):
        return {"ok": False, "error": "storage root not writable"}
    return {"ok": True, "free_bytes": shutil.disk_usage(root).free}


def check_workers() -> Check:
    now = time.time()
    stale_after = settings.GATEHOUSE_HEARTBEAT_STALE_AFTER
    try:  # the heartbeats live in the cache: Redis, in production, which may be restarting
        beat, worker = heartbeat.last_beat(), heartbeat.last_worker()
    except CACHE_UNAVAILABLE as exc:
        return {"ok": False, "error": f"cache unavailable: {type(exc).__name__}", "stale_after_seconds": stale_after}
    beat_age = None if beat is None else round(now - beat["at"], 1)
    worker_age = None if worker is None else round(now - worker["at"], 1)
    return {
        "ok": beat_age is not None and worker_age is not None and max(beat_age, worker_age) <= stale_after,
        "beat_tick_seconds_ago": beat_age,
        "worker_heartbeat_seconds_ago": worker_age,
        "queue_lag_seconds": None if worker is None else round(worker["lag"], 2),
        "stale_after_seconds": stale_after,
    }


def may_see_details(request: HttpRequest | Request) -> bool:
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_operator", False):
        return True
    if address_unproven(request):
        return False  # SECURITY: a proxy on this host would make every caller look local
    try:
        return ipaddress.ip_address(client_ip(request)).is_loopback
    except ValueError:
        return False


def _no_store(response: JsonResponse) -> JsonResponse:
    patch_cache_control(response, private=True, no_store=True)
    return response


@require_http_methods(["GET", "HEAD"])
def healthz(request: HttpRequest) -> JsonResponse:
    return _no_store(JsonResponse({"status": "ok"}))


_last: tuple[float, dict[str, Check]] | None = None
_last_lock = threading.Lock()


def readiness_checks() -> dict[str, Check]:
    """The checks, run at most once per GATEHOUSE_READYZ_CACHE_SECONDS in this process: anyone
    may ask /readyz, and each run is a query, a scan of the queue folder and, on S3, a HEAD of up
    to 2 s (found by a review: unthrottled). Callers meanwhile wait for the run in progress."""
    global _last
    ttl = settings.GATEHOUSE_READYZ_CACHE_SECONDS
    with _last_lock:
        if ttl > 0 and _last is not None and time.monotonic() - _last[0] < ttl:
            return _last[1]
        checks = {
            "database": check_database(),
            "broker": check_broker(),
            "storage": check_storage(),
            "workers": check_workers(),
        }
        _last = (time.monotonic(), checks)
        return checks


class ReadinessSerializer(serializers.Serializer):
    """The schema of /readyz (the view writes the JSON itself)."""

    status = serializers.ChoiceField(choices=["ok", "degraded", "unavailable"])
    checks = serializers.DictField(
        required=False,
        child=serializers.DictField(),
        help_text="database, broker, storage and workers, each with `ok`: operators and loopback callers only.",
    )


class ReadinessView(APIView):
    """GET /readyz. The API's authentication runs (a bearer token or the session); a token that
    does not authenticate is refused with 401 like anywhere else."""

    permission_classes = [AllowAnyone]

    @extend_schema(responses={200: ReadinessSerializer, 503: ReadinessSerializer})
    def get(self, request: Request) -> JsonResponse:
        checks = readiness_checks()
        ready = all(checks[name]["ok"] for name in ("database", "broker", "storage"))
        status = ("ok" if checks["workers"]["ok"] else "degraded") if ready else "unavailable"
        body: dict[str, Any] = {"status": status}
        if may_see_details(request):
            body["checks"] = checks
        return _no_store(JsonResponse(body, status=200 if ready else 503))
