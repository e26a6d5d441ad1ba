"""Refuse commits that would publish a Gatehouse access token.

A token pasted into a notebook, a config or a card is readable by everyone who may read the repo
(and stays in its history). Commits are checked where every path meets (`commits.commit_check`:
the commit API, the portal, git push): each regular (non-LFS) file the commit adds or changes is
scanned for the token format of `accounts.tokens`, whose CRC32 checksum tells a real token from
text that merely looks like one, without asking the database (no oracle, no false positives on
`gth_` alone). Files are scanned as stored and with NUL bytes dropped, so UTF-16 text (what
Windows tools write) is caught too; LFS files are scanned up to `LFS_SCAN_MAX_BYTES` each and
`LFS_SCAN_BUDGET` per commit (logs and notebooks that went to LFS), not beyond (the weights). Not caught: a token split
across lines, or encoded (base64, compressed).
"""

from __future__ import annotations

from collections.abc import Iterator

from accounts import tokens
from core.errors import BadRequest
from registry.git import trees
from registry.selectors import entry_sha256
from registry.storage import content

_PREFIX = tokens.PREFIX.encode()
LFS_SCAN_MAX_BYTES = 16 * 1024 * 1024
LFS_SCAN_BUDGET = 64 * 1024 * 1024


class TokenInCommit(BadRequest):
    code = "TokenInCommit"


def find_token(data: bytes) -> bool:
    """Whether `data` holds a well-formed token (prefix, alphabet, length and checksum)."""
    start = data.find(_PREFIX)
    while start != -1:
        candidate = data[start : start + tokens.TOKEN_LEN]
        if candidate.isascii() and tokens.looks_like_token(candidate.decode("ascii")):
            return True
        start = data.find(_PREFIX, start + 1)
    return False


def _changed_files(tree_oid: str, parent_oid: str | None, prefix: str = "") -> Iterator[tuple[str, trees.Entry]]:
    """Regular files of `tree_oid` that differ from `parent_oid` (walking only changed folders)."""
    before = trees.tree_index(parent_oid) if parent_oid else {}
    for entry in trees.tree_entries(tree_oid):
        old = before.get(entry["name"])
        if old is not None and old["oid"] == entry["oid"]:
            continue
        path = f"{prefix}{entry['name']}"
        if entry["type"] == "directory":
            old_dir = old["oid"] if old is not None and old["type"] == "directory" else None
            yield from _changed_files(entry["oid"], old_dir, f"{path}/")
        elif not entry.get("lfs") or entry["lfs"]["size"] <= LFS_SCAN_MAX_BYTES:
            yield path, entry


def check_no_tokens(*, tree_oid: str, parent_tree_oid: str | None) -> None:
    """Raise TokenInCommit naming the first new or changed text file that holds a token."""
    lfs_read = 0
    for path, entry in _changed_files(tree_oid, parent_tree_oid):
        size = entry["lfs"]["size"] if entry.get("lfs") else entry["size"]
        if entry.get("lfs"):
            if lfs_read + size > LFS_SCAN_BUDGET:
                continue
            lfs_read += size
        data = content.read_head(entry_sha256(entry), size)
        if find_token(data) or (b"\0" in data and find_token(data.replace(b"\0", b""))):
            raise TokenInCommit(
                f"The file {path} contains a Gatehouse access token: commits that would publish a token are "
                "refused. Remove it from the file (and revoke the token in your settings, as it may have leaked)."
            )
