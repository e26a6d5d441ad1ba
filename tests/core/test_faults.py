"""Crash points (core/faults.py): inert unless armed, fatal at the n-th pass when armed, and
refused by `check --deploy` while armed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from core import faults
from tests.support.gunicorn import ROOT

PASS_TWICE = """
import django
django.setup()
from core import faults
faults.point("commit.in_ref_txn")
print("passed once", flush=True)
faults.point("commit.in_ref_txn")
print("passed twice", flush=True)
"""


def run_armed(spec: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "GATEHOUSE_FAULTPOINTS": spec}
    return subprocess.run([sys.executable, "-c", PASS_TWICE], cwd=ROOT, env=env, capture_output=True, text=True)


def test_armed_point_kills_the_process_at_its_nth_pass():
    result = run_armed("commit.in_ref_txn:2")

    assert result.returncode == -signal.SIGKILL
    assert result.stdout == "passed once\n"


def test_other_points_armed_leave_this_one_inert():
    result = run_armed("commit.after_staging:1")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "passed once\npassed twice\n"


def test_unknown_point_names_are_refused():
    with pytest.raises(ValueError, match="Unknown fault point"):
        faults.parse("commit.typo:1")


def test_deploy_check_fails_while_armed(settings):
    settings.GATEHOUSE_FAULTPOINTS = "commit.in_ref_txn:1"

    with pytest.raises(SystemCheckError, match="gatehouse.E017"):
        call_command("check", "--deploy", "--tag", "security")
