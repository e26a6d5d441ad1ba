"""Every write of the previews app. Import from here: `from workers import services`."""

from workers.services.bias import bias_report_create, bias_report_publish
from workers.services.jobs import (
    preview_batch_claim,
    preview_job_finish,
    preview_jobs_fail,
    preview_jobs_reap,
    preview_lease_renew,
)
from workers.services.requests import preview_request_create, preview_settings_update

__all__ = [
    "bias_report_create",
    "bias_report_publish",
    "preview_batch_claim",
    "preview_job_finish",
    "preview_jobs_fail",
    "preview_jobs_reap",
    "preview_lease_renew",
    "preview_request_create",
    "preview_settings_update",
]
