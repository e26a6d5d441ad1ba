"""Git object ids and encodings, computed exactly as git computes them.

Pure functions over bytes: a blob id is sha1("blob <len>\\0" + content), a tree id is the sha1 of
git's binary tree encoding, a commit id the sha1 of its text. LFS files are stored in git as
pointer blobs, so their git id is the id of the pointer text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

FILE_MODE = "100644"
TREE_MODE = "40000"
HEX40 = re.compile(r"^[0-9a-f]{40}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
LFS_POINTER_MAX = 1024


def object_id(kind: str, payload: bytes) -> str:
    header = f"{kind} {len(payload)}\0".encode()
    return hashlib.sha1(header + payload, usedforsecurity=False).hexdigest()


def blob_id(content: bytes) -> str:
    return object_id("blob", content)


def blob_id_streaming(size: int, chunks) -> str:
    """The blob id of content given as an iterable of byte chunks of known total size."""
    digest = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


_POINTER_VERSIONS = (b"https://git-lfs.github.com/spec/v1", b"https://hawser.github.com/spec/v1")
_POINTER_OID = re.compile(rb"sha256:([0-9a-f]{64})")
_POINTER_SIZE = re.compile(rb"[0-9]{1,19}")


def read_as_lfs_pointer(data: bytes) -> tuple[str, int] | None:
    """(sha256, size) when git-lfs would take `data` as a pointer file, else None.

    SECURITY: git-lfs treats any small file of this shape as a reference to other content, not as
    bytes of its own, and so does Gatehouse: such content committed as a "regular" file would
    share its git blob id with the LFS entry it names. The one pointer rule of the project: besides
    the canonical text `lfs_pointer` writes, surrounding whitespace, CRLF line ends, the legacy
    version URL and `ext-` lines are accepted, as git-lfs accepts them."""
    if len(data) > LFS_POINTER_MAX or not data.lstrip().startswith(b"version "):
        return None
    values: dict[bytes, bytes] = {}
    for line in data.strip().split(b"\n"):
        key, _, value = line.rstrip(b"\r").partition(b" ")
        if not key or key in values:
            return None
        values[key] = value
    if values.get(b"version") not in _POINTER_VERSIONS or set(values) - {b"version", b"oid", b"size"} - {
        key for key in values if key.startswith(b"ext-")
    }:
        return None
    oid, size = _POINTER_OID.fullmatch(values.get(b"oid", b"")), _POINTER_SIZE.fullmatch(values.get(b"size", b""))
    if oid is None or size is None:
        return None
    return oid.group(1).decode(), int(size.group(0))


@dataclass(frozen=True)
class TreeItem:
    name: str
    mode: str
    oid: str

    @property
    def is_tree(self) -> bool:
        return self.mode == TREE_MODE


def tree_sort_key(name: str, is_tree: bool) -> bytes:
    """git orders entries by name bytes, comparing a directory as if its name ended in '/'."""
    return name.encode() + (b"/" if is_tree else b"")


def encode_tree(items: list[TreeItem]) -> bytes:
    ordered = sorted(items, key=lambda item: tree_sort_key(item.name, item.is_tree))
    return b"".join(
        item.mode.encode() + b" " + item.name.encode() + b"\0" + bytes.fromhex(item.oid) for item in ordered
    )


def tree_id(items: list[TreeItem]) -> str:
    return object_id("tree", encode_tree(items))


@dataclass(frozen=True)
class Signature:
    name: str
    email: str
    timestamp: int
    tz_offset: str = "+0000"

    def encode(self) -> str:
        # git strips '<', '>' and newlines from identities; do the same so the text stays parseable.
        name = _clean_identity(self.name)
        email = _clean_identity(self.email)
        return f"{name} <{email}> {self.timestamp} {self.tz_offset}"


def _clean_identity(value: str) -> str:
    return "".join(ch for ch in value if ch not in "<>\n\0").strip()


def commit_message(summary: str, description: str = "") -> str:
    """As `git commit-tree -m summary [-m description]` writes it: paragraphs, trailing newline."""
    summary = summary.strip()
    description = description.strip()
    return f"{summary}\n\n{description}\n" if description else f"{summary}\n"


def encode_commit(*, tree: str, parents: list[str], author: Signature, committer: Signature, message: str) -> bytes:
    lines = [f"tree {tree}"]
    lines += [f"parent {parent}" for parent in parents]
    lines.append(f"author {author.encode()}")
    lines.append(f"committer {committer.encode()}")
    return ("\n".join(lines) + "\n\n" + message).encode()


def commit_id(raw: bytes) -> str:
    return object_id("commit", raw)
