"""The Hub's webhook payload (version 3, huggingface_hub._webhooks_payload.WebhookPayload), built
when the event happens, and its size cap."""

from __future__ import annotations

import json

from django.conf import settings

from registry.hooks import RepoEvent
from registry.models import Ref, Repo

TRUNCATED = "\n\n[… cut: the payload is capped at {cap} bytes]"


def _object_id(pk: int | None) -> dict:
    return {"id": f"{pk:024x}" if pk is not None else "0" * 24}


def _urls(path: str, api_path: str) -> dict:
    base = settings.GATEHOUSE_PUBLIC_URL.rstrip("/")
    return {"web": f"{base}{path}", "api": f"{base}{api_path}"}


def _repo_part(repo: Repo, *, name: str | None = None) -> dict:
    repo_id = name or repo.repo_id
    prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
    part = {
        "type": repo.repo_type,
        "name": repo_id,
        "id": f"{repo.pk:024x}",
        "private": repo.private,
        "url": _urls(f"/{prefix}{repo_id}", f"/api/{repo.repo_type}s/{repo_id}"),
        "owner": _object_id(repo.owner_user_id or repo.owner_org_id),
    }
    head = Ref.objects.filter(repo=repo, name=f"refs/heads/{repo.default_branch}").values_list("commit_oid", flat=True)
    head_sha = head.first()
    if head_sha:
        part["headSha"] = head_sha
    return part


def _discussion_part(repo: Repo, discussion) -> dict:
    path = f"{repo.web_path}/discussions/{discussion.num}"
    part = {
        "id": f"{discussion.pk:024x}",
        "num": discussion.num,
        "author": _object_id(discussion.author_id),
        "url": _urls(path, f"/api/{repo.repo_type}s/{repo.repo_id}/discussions/{discussion.num}"),
        "title": discussion.title,
        "isPullRequest": discussion.is_pull_request,
        "status": discussion.status,
        "pinned": discussion.is_pinned,
    }
    if discussion.is_pull_request:
        part["changes"] = {"base": discussion.base_ref, "mergeCommitId": discussion.merge_commit_oid or None}
    return part


def comment_part(repo: Repo, discussion, comment) -> dict:
    path = f"{repo.web_path}/discussions/{discussion.num}#{comment.public_id}"
    return {
        "id": comment.public_id,
        "author": _object_id(comment.author_id),
        "hidden": comment.is_hidden,
        "content": None if comment.is_hidden else comment.raw,
        "url": {"web": f"{settings.GATEHOUSE_PUBLIC_URL.rstrip('/')}{path}"},
    }


def build(event: RepoEvent, *, repo: Repo, discussion=None, comment=None) -> dict:
    """The payload of `event` for every webhook (`for_webhook` adds which one)."""
    payload: dict = {
        "event": {"action": event.action, "scope": event.scope},
        "repo": _repo_part(repo, name=event.moved_from),
    }
    if event.updated_refs:
        payload["updatedRefs"] = [{"ref": ref, "oldSha": old, "newSha": new} for ref, old, new in event.updated_refs]
    if event.updated_config:
        payload["updatedConfig"] = dict(event.updated_config)
    if event.moved_from:
        payload["movedTo"] = {"name": repo.repo_id, "owner": _object_id(repo.owner_user_id or repo.owner_org_id)}
    if discussion is not None:
        payload["discussion"] = _discussion_part(repo, discussion)
    if comment is not None:
        payload["comment"] = comment_part(repo, discussion, comment)
    return payload


def for_webhook(payload: dict, webhook_id: str) -> dict:
    return {**payload, "webhook": {"id": webhook_id, "version": 3}}


def encode(payload: dict) -> bytes:
    """The body sent, at most GATEHOUSE_WEBHOOK_MAX_PAYLOAD_BYTES: a comment's text (the only
    field of unbounded size) is cut to fit, with a note; past that it is left out."""
    cap = settings.GATEHOUSE_WEBHOOK_MAX_PAYLOAD_BYTES
    body = _dumps(payload)
    comment = payload.get("comment")
    if len(body) <= cap or not comment or not comment.get("content"):
        return body
    note = TRUNCATED.format(cap=cap)
    content = comment["content"]

    def with_text(keep: int) -> bytes:
        return _dumps({**payload, "comment": {**comment, "content": content[:keep] + note}})

    low, high = 0, len(content)  # the longest prefix that fits (JSON escapes vary: search, don't guess)
    while low < high:
        middle = (low + high + 1) // 2
        if len(with_text(middle)) <= cap:
            low = middle
        else:
            high = middle - 1
    body = with_text(low)
    if len(body) <= cap:
        return body
    return _dumps({**payload, "comment": {**comment, "content": None}})


def _dumps(value) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
