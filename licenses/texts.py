"""License texts shipped by the ScanCode license database (PyPI package `licensedcode-data`).

Each `<key>.LICENSE` file is YAML front matter followed by the license text. We serve the text
exactly as packaged (trimmed), so its sha256, the license version users accept, changes only
when the pinned package changes.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

PACKAGE = "licensedcode-data"
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n?", re.DOTALL)
_KEY = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,99}$")


def package_version() -> str:
    try:
        return distribution(PACKAGE).version
    except PackageNotFoundError:
        return ""


@lru_cache(maxsize=256)
def packaged_text(key: str) -> str | None:
    """The text for a ScanCode license key, or None if the key or the package is missing."""
    if not key or not _KEY.match(key):
        return None
    try:
        path = Path(str(distribution(PACKAGE).locate_file(f"licensedcode/data/licenses/{key}.LICENSE")))
        raw = path.read_text(encoding="utf-8")
    except (PackageNotFoundError, OSError):
        return None
    return _FRONT_MATTER.sub("", raw, count=1).strip() + "\n"
