"""JSON and CSV shapes of access requests, access reports, audit events and release plans.

`access_request_item` is the Hub's shape (hub-api.md section 6): `user`, `requestId`, `status`,
`timestamp` (Z) and `fields`, plus Gatehouse's own keys, which the client ignores."""

from __future__ import annotations

import csv
import io
import json

from core.timeutil import isoformat_z
from gating.models import AccessRequest, AuditEvent, ReleasePlan


def access_request_item(request: AccessRequest) -> dict:
    user = request.user
    return {
        "user": {"user": user.username, "fullname": user.fullname or user.username, "email": user.email or None},
        "requestId": str(request.pk),
        "status": request.status,
        "timestamp": isoformat_z(request.requested_at),
        "fields": request.fields,
        "reviewedAt": isoformat_z(request.decided_at),
        "rejectionReason": request.rejection_reason or None,
        "expiresAt": isoformat_z(request.expires_at),
        "granted": request.granted,
    }


def access_report_row(request: AccessRequest) -> dict:
    """The Hub's access report fields (user, fullname, status, email, time, reviewedAt) and more."""
    return {
        "user": request.user.username,
        "fullname": request.user.fullname,
        "status": request.status,
        "email": request.user.email,
        "time": isoformat_z(request.requested_at),
        "reviewedAt": isoformat_z(request.decided_at),
        "reviewedBy": request.decided_by.username if request.decided_by else None,
        "expiresAt": isoformat_z(request.expires_at),
        "rejectionReason": request.rejection_reason,
        "fields": request.fields,
    }


def audit_row(event: AuditEvent) -> dict:
    return {
        "id": event.pk,
        "time": isoformat_z(event.created_at),
        "action": event.action,
        "actor": event.actor_name or None,
        "repo": event.repo_name,
        "subject": event.subject_name or None,
        "reason": event.reason,
        "data": event.data,
    }


def release_plan_item(plan: ReleasePlan | None) -> dict:
    if plan is None:
        return {"position": None, "paused": False, "stages": []}
    return {
        "position": plan.position + 1 if plan.position >= 0 else None,
        "paused": plan.paused,
        "withheld": plan.withheld_patterns,
        "stages": [
            {
                "stage": stage.position + 1,
                "mode": stage.mode,
                "scheduledAt": isoformat_z(stage.scheduled_at),
                "withheld": stage.withheld_patterns,
                "note": stage.note,
                "appliedAt": isoformat_z(stage.applied_at),
                "current": stage.position == plan.position,
            }
            for stage in plan.stages.all()
        ],
    }


def _csv_cell(value) -> str:
    """Nested values as JSON; SECURITY: cells that a spreadsheet would run as a formula get a quote."""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, sort_keys=True)
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows: list[dict], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(column)) for column in columns])
    return out.getvalue()
