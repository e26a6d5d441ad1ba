from __future__ import annotations

from webhooks import services
from webhooks.models import Webhook


def watch_repo(repo) -> services.WatchTarget:
    return services.WatchTarget(kind=repo.repo_type, name=repo.repo_id, repo=repo)


def watch_user(user) -> services.WatchTarget:
    return services.WatchTarget(kind="user", name=user.username, user=user)


def watch_org(org) -> services.WatchTarget:
    return services.WatchTarget(kind="org", name=org.name, org=org)


def make_webhook(owner, url: str, *watched, domains=("repo", "discussion"), secret: str = "s3cret") -> Webhook:  # noqa: S107
    return services.webhook_create(owner=owner, url=url, watched=list(watched), domains=list(domains), secret=secret)
