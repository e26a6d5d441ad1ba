"""Real git (and git-lfs) against the live server: a clean git environment per test."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

needs_git_lfs = pytest.mark.skipif(shutil.which("git-lfs") is None, reason="git-lfs is not installed")


@dataclass
class Git:
    home: Path
    hub: str

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "",
            "LANG": "C",
        }
        env.update(extra)
        return env

    def run(self, *args: str, cwd: Path | None = None, check: bool = True, input_text: str | None = None, **env: str):
        result = subprocess.run(  # noqa: S603 - git with fixed arguments, loopback server
            ["git", *args],
            cwd=cwd or self.home,
            env=self.env(**env),
            capture_output=True,
            text=True,
            input=input_text,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def url(self, path: str, token: str | None = None) -> str:
        if token is None:
            return f"{self.hub}/{path}"
        scheme, rest = self.hub.split("://", 1)
        return f"{scheme}://user:{token}@{rest}/{path}"


@pytest.fixture(autouse=True)
def _pack_cache(settings, tmp_path):
    """Each test its own pack cache (repo keys come again after a database flush)."""
    settings.GATEHOUSE_GIT_PACK_CACHE_DIR = tmp_path / "git-packs"
    return settings.GATEHOUSE_GIT_PACK_CACHE_DIR


@pytest.fixture
def git(hub, tmp_path) -> Git:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Tester\n\temail = tester@example.org\n[init]\n\tdefaultBranch = main\n"
        "[protocol]\n\tversion = 2\n"
    )
    helper = Git(home=home, hub=hub)
    if shutil.which("git-lfs"):
        helper.run("lfs", "install", "--skip-repo")
    return helper
