"""Preview outcomes for Prometheus (exported by core.metrics at `/metrics`).

`gatehouse_previews_finished_total{outcome, stage}`: preview jobs that reached an end state, counted
once, where the end is recorded (a rate, not a ledger: a record rolled back afterwards is still
counted; kept out of on-commit callbacks, which stand for the work a transaction sends on).
`outcome` is the job's status (`succeeded`, `blocked`, `failed`); `stage` is where a blocked job
was stopped (`prompt`, `guidance`, `checker`) and `none` otherwise. Never labelled by repo, user
or prompt. Jobs end in web processes (blocked prompts), in workers (runs) and in the beat (expired
or abandoned jobs): with the workers' metrics folder (core.taskmetrics), one scrape adds them up.
"""

from __future__ import annotations

from prometheus_client import Counter

PREVIEWS = Counter(
    "gatehouse_previews_finished",
    "Preview jobs that reached an end state, by outcome (status) and blocking stage.",
    ["outcome", "stage"],
)


def count_previews(outcome: str, *, stage: str = "", n: int = 1) -> None:
    if n:
        PREVIEWS.labels(outcome, stage or "none").inc(n)
