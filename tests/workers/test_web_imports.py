"""Web processes never import torch or diffusers: they cost seconds and hundreds of MB, and CUDA
must not be initialised before a worker forks. Checked in a fresh interpreter."""

import json
import subprocess
import sys

SCRIPT = """
import json, sys
import django
django.setup()
import config.wsgi, config.urls
from django.urls import get_resolver
def walk(patterns):
    for entry in patterns:
        if hasattr(entry, "url_patterns"):
            walk(entry.url_patterns)
        else:
            entry.callback  # resolves the view
walk(get_resolver().url_patterns)
import workers.api, workers.portal, workers.tasks, workers.services, workers.selectors, workers.worker
heavy = sorted(name for name in ("torch", "diffusers", "transformers") if name in sys.modules)
print(json.dumps(heavy))
"""


def test_web_app_does_not_import_torch_or_diffusers():
    env = {"DJANGO_SETTINGS_MODULE": "config.settings", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
