"""Pickle scanning of uploaded content (plain Python: no ORM, no Django).

Which files: all of them, whatever their name. A protocol 0/1 pickle has no header and loads
under any name, and archives carry pickles just as well, so the content decides, never the
extension.

How: every file is walked as a pickle from its first byte (pickletools, no code runs), and
picklescan rates every global a pickle imports: innocuous, suspicious (unknown) or dangerous.
Containers are opened and each member scanned the same way: zip (torch.save, .npz, .mar),
gzip, bz2, xz and tar, nested up to `Limits.depth`, within bounds on the bytes expanded, the
expansion ratio and the members read (archive bombs). Formats that hold no code (text,
safetensors, GGUF, plain .npy arrays, images) are recognised; anything else is content the
scanner cannot read.

The verdict fails closed (see `verdict`): `safe` only when everything was read and every import
is innocuous; `unscanned` for content in a format the scanner cannot read (7z, unknown binary);
`error` for content it could not finish (a bound exceeded, a corrupt archive, a timeout). Scans
run in a child process with CPU, memory and wall-clock limits, small files in the worker under
tighter bounds (`scan_file_isolated`).
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import re
import resource
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Protocol

from core.streams import Replayed
from registry.pickles import walk_pickle

SCAN_TIMEOUT_SECONDS = 300
SCAN_MEMORY_BYTES = 2 * 1024**3
HEAD_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
SPOOL_IN_MEMORY_BYTES = 16 * 1024**2


@dataclass(frozen=True)
class Limits:
    """Bounds on the work one scan may do; past any of them the verdict is `error`."""

    depth: int = 4  # containers inside containers: model.tar.gz is 2
    expanded_bytes: int = 8 * 1024**3  # bytes decompressed or extracted, all members together
    members: int = 10_000  # archive members, all archives together
    ratio: int = 200  # expanded / compressed bytes of one stream, checked past `ratio_floor`
    ratio_floor: int = 16 * 1024**2
    pickles: int = 256  # pickles one after the other in one file (legacy torch.save writes 5)


class LimitExceeded(Exception):
    pass


DANGEROUS, SUSPICIOUS = "dangerous", "suspicious"
MAGIC_GZIP, MAGIC_BZ2, MAGIC_XZ, MAGIC_7Z = b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"7z\xbc\xaf\x27\x1c"
MAGIC_NUMPY = b"\x93NUMPY"
IMAGE_MAGICS = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")
# Raw tensor storages of torch.save archives: read as bytes by torch, never unpickled.
_TORCH_STORAGE = re.compile(r"(^|/)data/\d+$")


@dataclass
class Findings:
    limits: Limits
    root: str = "file"  # the file's own name: findings elsewhere are inside it
    imports: set[tuple[str, str, str]] = field(default_factory=set)  # (module, name, safety)
    dangerous_in: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unscanned: list[str] = field(default_factory=list)
    exceeded: bool = False  # a bound of `limits` stopped the scan
    expanded: int = 0
    members: int = 0

    def charge(self, *, expanded: int = 0, members: int = 0) -> None:
        self.expanded += expanded
        self.members += members
        if self.expanded > self.limits.expanded_bytes:
            raise LimitExceeded(f"more than {self.limits.expanded_bytes} bytes once unpacked")
        if self.members > self.limits.members:
            raise LimitExceeded(f"more than {self.limits.members} archive members")


def scan_file(path: str, filename: str, *, limits: Limits | None = None) -> dict:
    """Scan the file at `path` in this process. Returns {"status", "imports", "message", "scanner"}."""
    return verdict(_scan_path(path, filename, limits or Limits()))


def _scan_path(path: str, filename: str, limits: Limits) -> Findings:
    findings = Findings(limits, root=filename or "file")
    try:
        with open(path, "rb") as handle:
            _scan_blob(handle, findings.root, findings, depth=0)
    except LimitExceeded as exc:
        findings.exceeded = True
        findings.errors.append(f"{filename}: {exc} (an archive bomb?)")
    except Exception as exc:  # noqa: BLE001 - any parser failure is a failed (not clean) scan
        findings.errors.append(f"scan failed: {type(exc).__name__}: {exc}")
    return findings


def verdict(findings: Findings) -> dict:
    """Fail closed: a dangerous import wins (it is known bad); then anything not finished
    (`error`), unknown imports (`suspicious`), content not read (`unscanned`); else `safe`."""
    imports = sorted(findings.imports)
    levels = {level for _, _, level in imports}
    if DANGEROUS in levels:
        inner = [name for name in findings.dangerous_in if name != findings.root]
        where = f" (in {inner[0]})" if inner else ""
        status, message = "unsafe", f"Dangerous imports found{where}: this file can run code when loaded."
    elif findings.errors:
        status, message = "error", "The scanner could not read all of this file: " + "; ".join(findings.errors[:3])
    elif SUSPICIOUS in levels:
        status, message = "suspicious", "Imports the scanner does not know to be safe."
    elif findings.unscanned:
        shown = "; ".join(findings.unscanned[:3])
        status, message = "unscanned", f"Not scanned: a format the scanner cannot read ({shown}). Treat as untrusted."
    else:
        status, message = "safe", ""
    return {
        "status": status,
        "imports": [{"module": m, "name": n, "safety": level} for m, n, level in imports],
        "message": message[:1000],
        "scanner": "picklescan",
    }


def _scan_blob(stream: IO[bytes], name: str, found: Findings, *, depth: int) -> None:
    """Scan one seekable stream: as pickles from its first byte (a polyglot archive can be a
    pickle too), then as a container, else by what its first bytes say it is."""
    head = stream.read(HEAD_BYTES)
    stream.seek(0)
    is_pickle = _scan_pickles(stream, name, found, start=0)
    opener = _container(stream, head)
    if opener is not None:
        if depth >= found.limits.depth:
            raise LimitExceeded(f"containers nested more than {found.limits.depth} deep")
        stream.seek(0)
        opener(stream, name, found, depth + 1)
    elif not is_pickle and not _holds_no_code(stream, head, name, found):
        found.unscanned.append(name)


def _scan_pickles(stream: IO[bytes], name: str, found: Findings, *, start: int) -> bool:
    """Rate the globals of each pickle from `start` on (pickle.load reads them one after the other,
    as legacy torch.save files do); returns whether the stream starts with a whole pickle.

    A walk that fails before STOP is not a loadable pickle, but pickle.load runs what it has read
    before failing: its dangerous globals count, so trailing junk cannot hide them; its other
    imports do not (text and raw bytes often parse for a few opcodes)."""
    from picklescan.scanner import _build_scan_result_from_raw_globals

    position, whole = start, False
    for _ in range(found.limits.pickles):
        stream.seek(position)
        walk = walk_pickle(stream)
        rated = {
            (g.module, g.name, g.safety.value)
            for g in _build_scan_result_from_raw_globals(walk.globals, name).globals
            if walk.complete or g.safety.value == DANGEROUS
        }
        if any(level == DANGEROUS for _, _, level in rated):
            found.dangerous_in.append(name)
        found.imports |= rated
        if not walk.complete or walk.end <= position:
            return whole
        whole, position = True, walk.end
        if not stream.read(1):
            return True
    raise LimitExceeded(f"more than {found.limits.pickles} pickles in one file")


Opener = Callable[[IO[bytes], str, Findings, int], None]


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


def _container(stream: IO[bytes], head: bytes) -> Opener | None:
    if head.startswith(MAGIC_7Z):
        return _open_7z
    if head.startswith(MAGIC_GZIP):
        return _decompressor(lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"), "gunzipped")
    if head.startswith(MAGIC_BZ2):
        return _decompressor(bz2.BZ2File, "bunzipped")
    if head.startswith(MAGIC_XZ):
        return _decompressor(lzma.LZMAFile, "unxz")
    if head[257:262] == b"ustar":
        return _open_tar
    stream.seek(0)
    is_zip = zipfile.is_zipfile(stream)  # by its central directory: a zip with a prefix counts
    stream.seek(0)
    return _open_zip if is_zip else None


def _open_7z(stream: IO[bytes], name: str, found: Findings, depth: int) -> None:
    # No 7z reader is installed (py7zr is not a dependency): the content is not read.
    found.unscanned.append(f"{name}: 7z archive")


def _decompressor(opener: Callable[[IO[bytes]], Readable], suffix: str) -> Opener:
    def open_stream(stream: IO[bytes], name: str, found: Findings, depth: int) -> None:
        name = f"{name} ({suffix})"
        with closing(opener(stream)) as inner:
            expanded = _Counted(inner, found, compressed=stream.tell)
            head = expanded.read(HEAD_BYTES)
            if _streams_as_tar(head, name, found):
                # A compressed tar (model.tar.gz) is read as it unpacks: only one member at a time
                # is copied out, however large the archive.
                if depth >= found.limits.depth:
                    raise LimitExceeded(f"containers nested more than {found.limits.depth} deep")
                with tarfile.open(fileobj=Replayed(head, expanded), mode="r|") as archive:  # type: ignore[call-overload]
                    _scan_tar_members(archive, name, found, depth + 1)
                return
            with _spool(Replayed(head, expanded)) as copy:
                _scan_blob(copy, name, found, depth=depth)

    return open_stream


def _streams_as_tar(head: bytes, name: str, found: Findings) -> bool:
    """Whether unpacked bytes starting with `head` are a tar and nothing else: not a pickle either
    (a pickle's opcodes end before the end of the head, what they import before that counted)."""
    if head[257:262] != b"ustar":
        return False
    start = io.BytesIO(head)
    if _scan_pickles(start, name, found, start=0):
        return False
    start.seek(0)
    return walk_pickle(start).end < len(head)


def _open_tar(stream: IO[bytes], name: str, found: Findings, depth: int) -> None:
    with tarfile.open(fileobj=stream, mode="r:") as archive:
        _scan_tar_members(archive, name, found, depth)


def _scan_tar_members(archive: tarfile.TarFile, name: str, found: Findings, depth: int) -> None:
    for member in archive:
        found.charge(members=1)
        if not member.isfile():
            continue  # folders, links and devices carry no content of their own
        reader = archive.extractfile(member)
        if reader is None:
            continue
        with reader, _spool(_Counted(reader, found)) as copy:
            _scan_blob(copy, f"{name}:{member.name}", found, depth=depth)


def _open_zip(stream: IO[bytes], name: str, found: Findings, depth: int) -> None:
    with zipfile.ZipFile(stream) as archive:
        for info in archive.infolist():
            found.charge(members=1)
            if info.is_dir() or _TORCH_STORAGE.search(info.filename):
                continue
            packed = partial(getattr, info, "compress_size")  # zipfile reads exactly that many bytes
            with archive.open(info) as reader, _spool(_Counted(reader, found, compressed=packed)) as copy:
                _scan_blob(copy, f"{name}:{info.filename}", found, depth=depth)


class _Counted:
    """A reader that charges every byte it yields to the scan, and refuses a stream expanding
    past `ratio` times the compressed bytes read (`compressed`) once past `ratio_floor`."""

    def __init__(self, reader: Readable, found: Findings, *, compressed: Callable[[], int] | None = None) -> None:
        self.reader, self.found, self.compressed, self.expanded = reader, found, compressed, 0

    def read(self, size: int = -1, /) -> bytes:
        if size < 0:
            return b"".join(iter(partial(self.read, CHUNK_BYTES), b""))
        data = self.reader.read(size)
        self.expanded += len(data)
        self.found.charge(expanded=len(data))
        limits = self.found.limits
        past_floor = self.compressed is not None and self.expanded > limits.ratio_floor
        if past_floor and self.expanded > limits.ratio * max(self.compressed(), 1):  # type: ignore[misc]
            raise LimitExceeded(f"expands more than {limits.ratio} times")
        return data

    def close(self) -> None:
        self.reader.close()


@contextmanager
def _spool(reader: Readable) -> Iterator[IO[bytes]]:
    """A seekable copy of what `reader` yields (charged to the scan by `_Counted`), in memory up
    to 16 MiB, on disk past that."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as copy:
        while chunk := reader.read(CHUNK_BYTES):
            copy.write(chunk)
        copy.seek(0)
        yield copy


def _holds_no_code(stream: IO[bytes], head: bytes, name: str, found: Findings) -> bool:
    """Whether the content is in a format that runs no code when loaded, or is a .npy array whose
    object data (a pickle) was scanned."""
    if not head:
        return True
    if head.startswith(MAGIC_NUMPY):
        return _scan_npy(stream, head, name, found)
    if head.startswith(b"GGUF") or head.startswith(IMAGE_MAGICS) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return True
    return _is_safetensors(stream, head) or _is_text(head, truncated=len(head) == HEAD_BYTES)


def _scan_npy(stream: IO[bytes], head: bytes, name: str, found: Findings) -> bool:
    major = head[6:7]
    size_bytes = 2 if major == b"\x01" else 4
    header_length = int.from_bytes(head[8 : 8 + size_bytes], "little")
    data_start = 8 + size_bytes + header_length
    header = head[8 + size_bytes : data_start]
    if len(header) != header_length:
        return False  # a header past 64 KiB: not something numpy writes
    # An object array: numpy pickles the data after the header.
    is_object = re.search(rb"'[|<>=]?O\d*'", header) is not None
    if is_object and not _scan_pickles(stream, f"{name} (object array)", found, start=data_start):
        found.errors.append(f"{name}: an object array whose data is not a readable pickle")
    return True


def _is_safetensors(stream: IO[bytes], head: bytes) -> bool:
    if len(head) < 10:
        return False
    header_length = int.from_bytes(head[:8], "little")
    stream.seek(0, io.SEEK_END)
    total = stream.tell()
    return 2 <= header_length <= total - 8 and head[8:9] == b"{"


def _is_text(head: bytes, *, truncated: bool) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return truncated and exc.start >= len(head) - 3  # a character cut by the 64 KiB head
    return True


def _limit_child() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (SCAN_MEMORY_BYTES, SCAN_MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (SCAN_TIMEOUT_SECONDS, SCAN_TIMEOUT_SECONDS))


# Files this small are scanned in the worker itself under these tighter limits (a child process
# costs more than the scan); one that reaches them is scanned again in the child.
IN_PROCESS_MAX_BYTES = 1024**2
IN_PROCESS_LIMITS = Limits(expanded_bytes=32 * 1024**2, members=1000)


def scan_file_isolated(path: str, filename: str, *, timeout: int = SCAN_TIMEOUT_SECONDS) -> dict:
    """`scan_file` in a resource-limited child process; any failure of the child is `error`.

    A file of at most 1 MiB is scanned in this process first, within IN_PROCESS_LIMITS: the work
    is bounded by them (an expansion ratio of 200 reaches 32 MiB from 160 KiB), and what reaches
    them goes to the child, whose limits are the full ones."""
    if Path(path).stat().st_size <= IN_PROCESS_MAX_BYTES:
        findings = _scan_path(path, filename, IN_PROCESS_LIMITS)
        if not findings.exceeded:
            return verdict(findings)
    try:
        completed = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "-m", "registry.scanning", path, filename],
            capture_output=True,
            timeout=timeout,
            preexec_fn=_limit_child,  # noqa: PLW1509 - the child runs only this module
            cwd=Path(__file__).resolve().parent.parent,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"status": "error", "imports": [], "message": "scan timed out", "scanner": "picklescan"}
    if completed.returncode != 0:
        detail = completed.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return {
            "status": "error",
            "imports": [],
            "message": f"scanner crashed: {detail[0]}"[:500],
            "scanner": "picklescan",
        }
    return json.loads(completed.stdout)


if __name__ == "__main__":
    print(json.dumps(scan_file(sys.argv[1], sys.argv[2])))
