"""Schemathesis over the OpenAPI schema, against a live server, as the repo's owner: no route may
answer 5xx, whatever the input (bad input gets a 4xx that says why), and every answer with a
documented status has the declared shape (the schema is honest). Run with `make test-slow`.

The schemathesis CLI runs its examples, coverage (every property given each wrong type and
boundary value) and fuzzing phases, positive and negative, over every operation, with the path
parameters naming a real gated repo, pull request, comment and revision (else nearly every
request would stop at the repo lookup); a last run fuzzes with generated paths. Bounded by
GATEHOUSE_FUZZ_EXAMPLES examples per operation and phase: about 5 minutes on the 2-core VM.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.builders import PASSWORD, UserFactory, commit_files, make_repo, token_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

EXAMPLES = int(os.environ.get("GATEHOUSE_FUZZ_EXAMPLES", "20"))
HOOKS = Path(__file__).parent / "support" / "schemathesis_hooks.py"  # the ndjson commit body
# Run on their own, after the others: they may turn gating off or make the repo private, which
# would end the access-request routes' run at their first check.
LAST = ["api_settings_update", "api_repos_move_create"]


@pytest.fixture
def world(transactional_db, settings):
    from community.services import comment_create, pull_request_open
    from gating.services import access_request_create
    from registry.services import branch_create, repo_settings_update

    settings.GATEHOUSE_COMMUNITY_POSTS_PER_WINDOW = 10**6  # else most posts would be a 429
    # Without a checker, previews answer 503 PreviewsUnavailable before reading anything (by
    # design: the operator has not set them up); with one named, the handlers run on.
    settings.GATEHOUSE_SAFETY_CHECKER_PATH = "/nonexistent/safety-checker"
    owner = UserFactory(username="alice")
    requester = UserFactory(username="bob", password=PASSWORD)
    repo = make_repo(owner, "painter", {"README.md": b"---\nlicense: mit\n---\n# Painter\n", "weights/a.bin": b"x"})
    commit_files(repo, {"config.json": b"{}"}, author=owner)
    branch_create(repo=repo, branch="scratch", starting_point=None)
    repo = repo_settings_update(repo=repo, gated="manual", actor=owner)
    access_request_create(repo=repo, user=requester, answers={}, has_role=False)
    pull = pull_request_open(repo=repo, author=owner, title="A pull request", description="Please merge")
    comment = comment_create(discussion=pull, author=owner, raw="A comment")
    return {
        "token": token_for(owner),
        "path": {
            "repo_type": "models",
            "namespace": owner.username,
            "name": repo.name,
            "num": str(pull.num),
            "comment_id": comment.public_id,
            "revision": "main",
            "branch": "scratch",  # DELETE .../branch/{branch} must leave main alone
            "rest": "main/weights",
            "license_id": "openrail++",
            "status": "pending",
        },
    }


def _config(tmp_path: Path, path_values: dict[str, str] | None) -> Path:
    """A config naming the world's objects in every path (None: paths generated like the rest)."""
    lines = ["[parameters]"] + [f'"path.{name}" = {json.dumps(value)}' for name, value in (path_values or {}).items()]
    config = tmp_path / f"schemathesis-{'pinned' if path_values else 'free'}.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def _run(schema: Path, config: Path, url: str, token: str, report: Path, *options: str) -> tuple[int, str]:
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(config),
        "run",
        str(schema),
        "--url",
        url,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "not_a_server_error,response_schema_conformance",
        "--max-examples",
        str(EXAMPLES),
        "--workers",
        "1",
        "--seed",
        "19",
        "--request-timeout",
        "60",
        "--continue-on-failure",
        "--suppress-health-check",
        "all",
        "--warnings",
        "off",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        *options,
    ]
    env = {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": str(HOOKS)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=1500, env=env, cwd=report.parent)
    return done.returncode, done.stdout + done.stderr


def test_no_route_answers_5xx(live_server, world, tmp_path):
    from drf_spectacular.generators import SchemaGenerator

    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps(SchemaGenerator().get_schema(request=None, public=True)))
    pinned, free = _config(tmp_path, world["path"]), _config(tmp_path, None)
    every_phase = ["--phases", "examples,coverage,fuzzing"]
    runs = {
        "pinned paths": (pinned, *every_phase, *[a for op in LAST for a in ("--exclude-operation-id", op)]),
        "pinned paths, repo-wide changes": (
            pinned,
            *every_phase,
            *[a for op in LAST for a in ("--include-operation-id", op)],
        ),
        "generated paths": (free, "--phases", "fuzzing"),
    }
    failed = {}
    for index, (name, (config, *options)) in enumerate(runs.items()):
        code, output = _run(schema, config, live_server.url, world["token"], tmp_path / f"junit-{index}.xml", *options)
        selected, tested = re.search(r"Selected: (\d+)/", output), re.search(r"Tested: (\d+)", output)
        if code != 0 or not (selected and tested and int(tested[1]) == int(selected[1]) > 0):
            failed[name] = output[-15000:]
    assert not failed, "schemathesis found 5xx answers or undeclared shapes (or could not run):\n" + "\n\n".join(
        f"== {name}\n{output}" for name, output in failed.items()
    )
