"""Pickle scanning of uploaded weights (plain Python: no ORM, no Django).

Which files: every pickle-based format by extension (.bin, .pt, .pth, .ckpt, .pkl, .pickle,
.joblib, .npy, .npz) and any file whose first bytes are a pickle or a zip archive (PyTorch
checkpoints and pickles inside zips), whatever its name.

How: picklescan reads the opcodes (plus a second pass of ours over zip entries picklescan skips)
without executing anything and rates every imported global:
innocuous, suspicious (unknown) or dangerous. The verdict is fail-closed: `safe` only when every
global is innocuous; any dangerous global makes the file `unsafe`; unknown globals make it
`suspicious`; a file the scanner cannot parse, or a scan that runs out of time or memory, is
`error`. Scans run in a child process with CPU, memory and wall-clock limits, so a
decompression bomb or a pathological pickle cannot take the worker down.
"""

from __future__ import annotations

import json
import pickletools
import re
import resource
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

PICKLE_EXTENSIONS = {".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib", ".npy", ".npz", ".zip", ".mar"}
ZIP_MAGIC = b"PK\x03\x04"
SCAN_TIMEOUT_SECONDS = 300
SCAN_MEMORY_BYTES = 2 * 1024**3


def needs_scan(path: str, head: bytes) -> bool:
    if PurePosixPath(path).suffix.lower() in PICKLE_EXTENSIONS:
        return True
    # Pickle protocol 2+ starts with PROTO (0x80); zip archives may hold pickles (torch.save).
    return head[:1] == b"\x80" or head[:4] == ZIP_MAGIC


def scan_file(path: str, filename: str) -> dict:
    """Run picklescan in this process. Returns {"status", "imports", "message", "scanner"}."""
    from picklescan.scanner import SafetyLevel, scan_bytes

    suffix = PurePosixPath(filename).suffix.lower() or None
    try:
        with open(path, "rb") as handle:
            result = scan_bytes(handle, filename, file_ext=suffix)
            handle.seek(0)
            if zipfile.is_zipfile(handle):
                result.merge(scan_unlisted_zip_entries(handle, filename))
    except Exception as exc:  # noqa: BLE001 - any parser failure is a failed (not clean) scan
        message = f"scan failed: {type(exc).__name__}: {exc}"[:500]
        return {"status": "error", "imports": [], "message": message, "scanner": "picklescan"}
    imports = sorted({(g.module, g.name, g.safety.value) for g in result.globals}, key=lambda item: (item[0], item[1]))
    levels = {level for _, _, level in imports}
    if result.scan_err:
        status, message = "error", "The scanner could not read every pickle in this file."
    elif SafetyLevel.Dangerous.value in levels:
        status, message = "unsafe", "Dangerous imports found: this file can run code when loaded."
    elif SafetyLevel.Suspicious.value in levels:
        status, message = "suspicious", "Imports the scanner does not know to be safe."
    else:
        status, message = "safe", ""
    return {
        "status": status,
        "imports": [{"module": m, "name": n, "safety": level} for m, n, level in imports],
        "message": message,
        "scanner": "picklescan",
    }


# Raw tensor storages of torch.save archives: read as bytes by torch, never unpickled.
_TORCH_STORAGE = re.compile(r"(^|/)data/\d+$")


def _ends_with_stop(stream) -> bool:
    """Whether the stream starts with a whole pickle (its opcodes parse up to STOP)."""
    try:
        return any(opcode.name == "STOP" for opcode, _arg, _pos in pickletools.genops(stream))
    except Exception:  # noqa: BLE001 - not a pickle
        return False


def scan_unlisted_zip_entries(handle: BinaryIO, filename: str):
    """The second scanner: picklescan opens only zip entries with a pickle name or a protocol 2+
    header, but a protocol 0/1 pickle named `payload` loads just as well. Every other entry is read
    as a pickle: one that parses completely counts with all its globals; one that does not (most
    entries are not pickles) counts only for the dangerous globals found before the parse failed,
    so trailing junk after a malicious pickle does not hide it."""
    from picklescan.scanner import SafetyLevel, ScanResult, scan_pickle_bytes

    covered = (".pkl", ".pickle", ".joblib", ".dat", ".data", ".npy")
    result = ScanResult([])
    with zipfile.ZipFile(handle) as archive:
        for name in archive.namelist():
            if name.endswith(covered) or name.endswith("/") or _TORCH_STORAGE.search(name):
                continue
            with archive.open(name) as entry:
                if entry.read(2)[:1] in (b"\x80", b"\x93"):  # pickle protocol 2+ or numpy: picklescan's
                    continue
            with archive.open(name) as entry:
                # The first pickle only: pickle.load stops at its STOP, so bytes after it must
                # not turn a complete pickle into a parse failure (which keeps dangerous only).
                found = scan_pickle_bytes(entry, f"{filename}:{name}", multiple_pickles=False)
            with archive.open(name) as entry:
                complete = _ends_with_stop(entry)
            if found.scan_err or not complete:
                found.globals = [g for g in found.globals if g.safety == SafetyLevel.Dangerous]
                found.scan_err = False
            result.merge(found)
    return result


def _limit_child() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (SCAN_MEMORY_BYTES, SCAN_MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (SCAN_TIMEOUT_SECONDS, SCAN_TIMEOUT_SECONDS))


def scan_file_isolated(path: str, filename: str, *, timeout: int = SCAN_TIMEOUT_SECONDS) -> dict:
    """`scan_file` in a resource-limited child process; any failure of the child is `error`."""
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
        return {"status": "error", "imports": [], "message": f"scanner crashed: {detail[0]}"[:500],
                "scanner": "picklescan"}  # fmt: skip
    return json.loads(completed.stdout)


if __name__ == "__main__":
    print(json.dumps(scan_file(sys.argv[1], sys.argv[2])))
