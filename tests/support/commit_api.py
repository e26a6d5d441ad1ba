"""Commits through the Hub's ndjson commit endpoint, as `huggingface_hub.create_commit` sends them,
for tests that need lines the client would never send."""

import base64
import json

from django.test import Client


def inline_file(path: str, data: bytes) -> dict:
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(data).decode(), "encoding": "base64"}}


def lfs_file(path: str, sha256: str, size: int) -> dict:
    return {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": sha256, "size": size}}


def post_commit(
    client: Client, token: str, repo_id: str, operations: list[dict], *, summary: str = "update", create_pr=False
):
    lines = [{"key": "header", "value": {"summary": summary}}, *operations]
    return client.post(
        f"/api/models/{repo_id}/commit/main" + ("?create_pr=1" if create_pr else ""),
        data=b"".join(json.dumps(line).encode() + b"\n" for line in lines),
        content_type="application/x-ndjson",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
