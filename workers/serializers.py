"""JSON shapes of the preview API (native routes, not part of the Hub protocol)."""

from __future__ import annotations

from core.timeutil import isoformat_z
from workers.models import BiasReport, BiasReportCell, JobStatus, PreviewRequest, SafetyStage, SafetyVerdict

STAGE_NOTICE: dict[str, str] = {
    SafetyStage.PROMPT: "The prompt was blocked by prompt screening before any image was made",
    SafetyStage.GUIDANCE: "The image was blocked by safety guidance",
    SafetyStage.CHECKER: "The image was blocked by the image safety checker and was not kept",
}


def blocked_notice(stage: str, category: str) -> str:
    text = STAGE_NOTICE.get(stage, "The preview was blocked")
    return f"{text} (category: {category or 'unspecified'})."


def image_url(request: PreviewRequest) -> str:
    return f"{request.repo.web_path}/previews/{request.pk}/image"


def request_json(request: PreviewRequest) -> dict:
    job = request.job
    params = job.params
    blocked = None
    if job.status == JobStatus.BLOCKED:
        blocked = {
            "stage": job.blocked_stage,
            "category": job.blocked_category,
            "message": blocked_notice(job.blocked_stage, job.blocked_category),
        }
    return {
        "id": str(request.pk),
        "repo": request.repo.repo_id,
        "revision": request.revision,
        "commit": job.commit_oid,
        "status": job.status,
        "reused": request.reused,
        "params": {
            "prompt": params["prompt"],
            "negative_prompt": params["negative_prompt"],
            "seed": params["seed"],
            "num_inference_steps": params["steps"],
            "guidance_scale": params["guidance_scale"],
            "width": params["width"],
            "height": params["height"],
        },
        "safety": {"sld_preset": job.sld_preset, "blocked": blocked},
        "progress": {"step": job.progress_step, "total": params["steps"]},
        "error": (job.error or "The preview failed.") if job.status == JobStatus.FAILED else None,
        "imageUrl": image_url(request) if job.status == JobStatus.SUCCEEDED else None,
        "createdAt": isoformat_z(request.created_at),
        "finishedAt": isoformat_z(job.finished_at),
        "timings": job.timings or {},
        "url": f"{request.repo.web_path}/previews/{request.pk}",
        "apiUrl": f"/api/models/{request.repo.repo_id}/previews/{request.pk}",
    }


def verdict_json(verdict: SafetyVerdict) -> dict:
    job = verdict.job
    return {
        "job": str(job.pk),
        "attempt": verdict.attempt,
        "stage": verdict.stage,
        "outcome": verdict.outcome,
        "category": verdict.category,
        "detail": verdict.detail,
        "prompt": job.params.get("prompt"),
        "requester": job.created_by.username if job.created_by else None,
        "kind": job.kind,
        "createdAt": isoformat_z(verdict.created_at),
    }


def cell_json(report: BiasReport, cell: BiasReportCell) -> dict:
    job = cell.job
    return {
        "profession": cell.profession,
        "adjective": cell.adjective,
        "seed": cell.seed,
        "status": job.status,
        "blocked": {"stage": job.blocked_stage, "category": job.blocked_category} if job.status == "blocked" else None,
        "imageUrl": f"{report.repo.web_path}/bias-reports/{report.pk}/images/{cell.pk}"
        if job.status == JobStatus.SUCCEEDED
        else None,
    }


def report_json(report: BiasReport, *, with_cells: bool) -> dict:
    data = {
        "id": str(report.pk),
        "repo": report.repo.repo_id,
        "revision": report.revision,
        "commit": report.commit_oid,
        "published": report.published,
        "config": report.config,
        "createdAt": isoformat_z(report.created_at),
        "url": f"{report.repo.web_path}/bias-reports/{report.pk}",
    }
    if with_cells:
        cells = report.cells.select_related("job").order_by("pk")
        data["cells"] = [cell_json(report, cell) for cell in cells]
        data["done"] = sum(1 for cell in data["cells"] if cell["status"] not in ("queued", "running"))
    return data
