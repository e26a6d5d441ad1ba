"""Fixtures the worker crash-point tests share with the end-to-end tests: real worker processes
(tests/e2e/conftest.py) and the tiny preview pipeline (tests/support/previews.py)."""

from tests.e2e.conftest import e2e_settings, worker_setup  # noqa: F401 - fixtures
from tests.support.previews import *  # noqa: F403 - fixtures
