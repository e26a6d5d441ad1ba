"""Every write of the gating app. Each service is one transaction and records its audit events
in that transaction."""

from gating.services.access import (
    access_grant,
    access_request_submit,
    access_requests_decide,
    access_requests_expire,
    require_gated,
)
from gating.services.audit import audit_record
from gating.services.release import (
    StageSpec,
    release_advance,
    release_apply_due,
    release_operate,
    release_pause,
    release_plan_set,
    release_rollback,
)
from gating.services.review import (
    access_digests_claim,
    gate_config_update,
    gate_mode_set,
    reviewer_add,
    reviewer_remove,
)

__all__ = [
    "StageSpec",
    "access_digests_claim",
    "access_grant",
    "access_request_submit",
    "access_requests_decide",
    "access_requests_expire",
    "audit_record",
    "gate_config_update",
    "gate_mode_set",
    "release_advance",
    "release_apply_due",
    "release_operate",
    "release_pause",
    "release_plan_set",
    "release_rollback",
    "require_gated",
    "reviewer_add",
    "reviewer_remove",
]
