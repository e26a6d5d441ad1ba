"""Reads for previews. They take a repo the policy already returned, and whether the caller is
one of its admins (a policy decision the interface layer makes)."""

from __future__ import annotations

import uuid
from collections import Counter

from django.db.models import QuerySet

from core.errors import BadRequest, Forbidden, HubError, NotFound
from registry.models import Repo
from registry.selectors import Resolved
from workers import conf
from workers.loading import model_plan
from workers.models import BiasReport, JobStatus, PreviewRequest, PreviewSettings, SafetyVerdict
from workers.runner.files import UnsupportedModel


class PreviewsUnavailable(HubError):
    status = 503
    code = "PreviewsUnavailable"
    default_message = "Previews are not available on this hub: the operator has not configured a safety checker."


class PreviewsDisabled(Forbidden):
    code = "PreviewsDisabled"
    default_message = "The authors of this repo have turned previews off."


class UnsupportedModelError(BadRequest):
    code = "UnsupportedModel"


class PreviewNotFound(NotFound):
    code = "PreviewNotFound"
    default_message = "Preview not found"


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise PreviewNotFound() from exc


def request_for(*, repo: Repo, request_id: str, user, is_admin: bool) -> PreviewRequest:
    """A preview request of this repo that the caller made (or any, for the repo's admins).

    SECURITY: someone else's request looks exactly like a missing one."""
    queryset = PreviewRequest.objects.select_related("job", "repo").filter(repo=repo, pk=_uuid(request_id))
    if not is_admin:
        if user is None:
            raise PreviewNotFound()
        queryset = queryset.filter(requester=user)
    found = queryset.first()
    if found is None:
        raise PreviewNotFound()
    return found


def history(*, repo: Repo, user, limit: int = 50) -> list[PreviewRequest]:
    if user is None:
        return []
    queryset = PreviewRequest.objects.filter(repo=repo, requester=user).select_related("job", "repo")
    return list(queryset.order_by("-created_at")[:limit])


def verdicts(*, repo: Repo, limit: int = 200) -> QuerySet[SafetyVerdict]:
    return (
        SafetyVerdict.objects.filter(job__repo=repo)
        .select_related("job", "job__created_by")
        .order_by("-created_at", "-pk")[:limit]
    )


def reports(*, repo: Repo, is_admin: bool) -> QuerySet[BiasReport]:
    queryset = BiasReport.objects.filter(repo=repo).order_by("-created_at")
    return queryset if is_admin else queryset.filter(published=True)


def report_for(*, repo: Repo, report_id: str, is_admin: bool) -> BiasReport:
    report = reports(repo=repo, is_admin=is_admin).filter(pk=_uuid(report_id)).first()
    if report is None:
        raise PreviewNotFound("Bias report not found")
    return report


def report_grid(report: BiasReport) -> dict:
    """{"professions": [{"name", "rows": [{"adjective", "cells": [cell...]}]}], "counts": {...}}."""
    cells = {
        (cell.profession, cell.adjective, cell.seed): cell for cell in report.cells.select_related("job").order_by("pk")
    }
    config = report.config
    counts = Counter(cell.job.status for cell in cells.values())
    professions = []
    for profession in config["professions"]:
        rows = []
        for adjective in config["adjectives"]:
            row = [cells.get((profession, adjective, seed)) for seed in config["seeds"]]
            rows.append({"adjective": adjective, "cells": row})
        professions.append({"name": profession, "rows": rows})
    done = sum(counts[status] for status in (JobStatus.SUCCEEDED, JobStatus.BLOCKED, JobStatus.FAILED))
    return {"professions": professions, "counts": dict(counts), "done": done, "total": len(cells)}


def settings_for(repo: Repo) -> PreviewSettings:
    return PreviewSettings.objects.filter(repo=repo).first() or PreviewSettings(repo=repo)


def check_previewable(repo: Repo, resolved: Resolved) -> PreviewSettings:
    """Raise the error a caller should see when this repo cannot be previewed at all."""
    if not conf.previews_available():
        raise PreviewsUnavailable()
    if repo.repo_type != "model":
        raise UnsupportedModelError("Only model repos can be previewed.")
    preview_settings = settings_for(repo)
    if not preview_settings.enabled:
        raise PreviewsDisabled()
    try:
        model_plan(repo.pk, resolved.tree_oid)
    except UnsupportedModel as exc:
        raise UnsupportedModelError(str(exc)) from exc
    return preview_settings
