"""Finding: "safe" for content never scanned. A protocol 0/1 pickle under another extension, and
pickles inside gzip or tar, were reported `safe`: the scanner chose files by name and by a
protocol 2 header, read no compressed container, and content it never read showed `safe`.

Now every file is scanned whatever its name, containers are opened within bounds (past them:
`error`), and what the scanner cannot read is `unscanned`; none of them is `safe`, through the
scanner, the worker, the Hub API the real client reads, and the portal.
"""

import bz2
import gzip
import importlib
import io
import lzma
import os
import pickle
import pickletools
import tarfile
import time
import tracemalloc
import zipfile
from contextlib import contextmanager

import pytest
from django.apps import apps
from huggingface_hub import HfApi

from registry import scanning
from registry.models import FileScan
from tests.support.builders import make_repo


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def _tar(files: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


PICKLE_0 = pickle.dumps(_Evil(), protocol=0)  # b"cposix\nsystem\n(V...": no header at all
PICKLE_1 = pickle.dumps(_Evil(), protocol=1)
CLEAN_PICKLE = pickle.dumps({"lr": 0.1, "layers": [1, 2]}, protocol=0)
IN_CONTAINERS = {
    "weights.gz": gzip.compress(PICKLE_0),
    "weights.bz2": bz2.compress(PICKLE_0),
    "weights.xz": lzma.compress(PICKLE_0),
    "weights.tar": _tar({"README.md": b"# notes\n", "model/notes.txt": PICKLE_0}),
    "weights.tar.gz": _tar({"model/data.txt": PICKLE_1}, "w:gz"),
    "weights.tar.xz": _tar({"model/data.txt": PICKLE_0}, "w:xz"),
    "bundle.zip": _zip({"docs/readme.txt": b"hello\n", "weights/data.txt": PICKLE_0}),
    "nested.zip": _zip({"inner.tar.gz": _tar({"deep/payload": PICKLE_0}, "w:gz")}),
}


def _scan(tmp_path, name: str, data: bytes, **limits) -> dict:
    path = tmp_path / "upload"
    path.write_bytes(data)
    if limits:
        return scanning.scan_file(str(path), name, limits=scanning.Limits(**limits))
    return scanning.scan_file(str(path), name)


@pytest.mark.parametrize("payload", [PICKLE_0, PICKLE_1], ids=["protocol0", "protocol1"])
@pytest.mark.parametrize("filename", ["weights.bin", "data.txt", "config.json", "noextension"])
def test_an_old_protocol_pickle_is_unsafe_under_any_name(tmp_path, payload, filename):
    result = _scan(tmp_path, filename, payload)
    assert result["status"] == "unsafe", result
    assert any(item["name"] == "system" and item["safety"] == "dangerous" for item in result["imports"])


@pytest.mark.parametrize("filename", sorted(IN_CONTAINERS))
def test_a_pickle_inside_a_compressed_file_or_archive_is_unsafe(tmp_path, filename):
    result = _scan(tmp_path, filename, IN_CONTAINERS[filename])
    assert result["status"] == "unsafe", result
    assert "can run code" in result["message"]


# STACK_GLOBAL reads the stack, not the last two values written: os, system, then a decoy that POP
# (or a memo round trip, or a mark) takes away again. pickle.loads runs os.system("echo").
STACK_TRICKS = {
    "pop": b"\x80\x04\x8c\x02os\x8c\x06system\x8c\x03a-b0\x93\x8c\x04echo\x85R.",
    "mark": b"\x80\x04\x8c\x02os\x8c\x06system(\x8c\x03a-b1\x93\x8c\x04echo\x85R.",
    "memo": b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x8c\x03a-b0h\x00h\x01\x93\x8c\x04echo\x85R.",
}


@pytest.mark.parametrize("trick", sorted(STACK_TRICKS))
def test_a_decoy_value_before_stack_global_does_not_hide_the_import(tmp_path, trick):
    payload = STACK_TRICKS[trick]
    assert [op.name for op, _, _ in pickletools.genops(payload)][-1] == "STOP"
    result = _scan(tmp_path, "pytorch_model.bin", payload)
    assert result["status"] == "unsafe", result
    assert any(item["name"] == "system" and item["safety"] == "dangerous" for item in result["imports"])


@pytest.mark.parametrize("number", [b"I0x10\n", b"L0x10L\n", b"I0o17\n", b"I0b1\n", b"I1_0\n"])
def test_numbers_pickle_reads_and_pickletools_did_not_hide_what_follows(tmp_path, number):
    """pickle reads INT and LONG with int(text, 0); pickletools refused `0x10`, which ended the
    walk before the import and left a text-looking pickle 'safe'."""
    payload = number + b"0cos\nsystem\n(S'true'\ntR."
    assert _scan(tmp_path, "pytorch_model.bin", payload)["status"] == "unsafe"


def test_a_pickle_too_deep_to_follow_is_still_judged_by_its_imports(tmp_path):
    """Past a million values on the stack the walk stops simulating it, not reading it: the import
    after them is still found (it was 'safe' for a moment: the walk ended, the rest looked like text)."""
    payload = b"(" + b"N" * 1_000_001 + b"1" + b"cos\ngetpid\n)R."
    assert _scan(tmp_path, "model.pkl", payload)["status"] == "unsafe"
    deep = b"\x80\x04" + b"N" * 1_000_001 + b"\x8c\x02os\x8c\x06getpid\x93)R."
    assert _scan(tmp_path, "model.bin", deep)["status"] == "unsafe"


def test_a_tar_whose_header_is_itself_a_pickle_is_unsafe(tmp_path):
    """A polyglot: pickle.load runs a tar whose first member's name is a pickle."""
    polyglot = _tar({PICKLE_0.decode("ascii"): b"harmless"})
    assert polyglot.startswith(PICKLE_0)
    assert _scan(tmp_path, "data.tar", polyglot)["status"] == "unsafe"


def test_clean_archives_and_ordinary_files_are_still_safe(tmp_path):
    for name, data in {
        "clean.tar.gz": _tar({"config.json": b'{"a": 1}', "state.pkl": CLEAN_PICKLE}, "w:gz"),
        "clean.zip": _zip({"README.md": b"# model\n", "state.pkl": CLEAN_PICKLE}),
        "README.md": b"# A model\n\ncats\ndogs\n",
        "config.json": b'{"hidden_size": 8}',
        "empty.txt": b"",
    }.items():
        assert _scan(tmp_path, name, data)["status"] == "safe", name


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("model.onnx", b"\xff\x08\x07" + bytes(range(256)) * 64),
        ("weights.bin", b"\x00\x01\x02\x03" * 1000),
        ("fake.safetensors", b"\0" * 100),
        ("weights.7z", b"7z\xbc\xaf\x27\x1c" + b"\0" * 200),  # no 7z reader (py7zr) is installed
        ("bundle.tar.gz", _tar({"blob.dat": b"\xfe\xed" + bytes(range(256)) * 8}, "w:gz")),
    ],
)
def test_content_the_scanner_cannot_read_is_unscanned_not_safe(tmp_path, name, data):
    result = _scan(tmp_path, name, data)
    assert result["status"] == "unscanned", result
    assert "cannot read" in result["message"]


def _gzip_bomb(gigabytes: int = 1) -> bytes:
    """A multi-member gzip: 16 copies of 64 MiB of zeros per GiB, about 1 MiB on disk."""
    member = gzip.compress(b"\0" * (64 * 1024**2), compresslevel=9)
    return member * (16 * gigabytes)


def _bounded(fn):
    tracemalloc.start()
    started = time.monotonic()
    try:
        result = fn()
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return result, time.monotonic() - started, peak


def test_a_gzip_bomb_is_an_error_in_bounded_time_and_memory(tmp_path):
    bomb = _gzip_bomb()
    assert len(bomb) < 2 * 1024**2
    result, seconds, peak = _bounded(lambda: _scan(tmp_path, "weights.bin.gz", bomb))
    assert result["status"] == "error" and "bomb" in result["message"], result
    assert seconds < 5 and peak < 64 * 1024**2, (seconds, peak)


def test_a_zip_bomb_and_an_archive_past_the_size_bound_are_errors(tmp_path):
    zip_bomb = _zip({f"part{n}.bin": b"\0" * (32 * 1024**2) for n in range(4)})
    result, seconds, peak = _bounded(lambda: _scan(tmp_path, "weights.zip", zip_bomb))
    assert result["status"] == "error" and seconds < 5 and peak < 64 * 1024**2, (result, seconds, peak)
    # Incompressible data within the ratio, but past the bound on bytes unpacked.
    big = _tar({f"shard{n}.bin": os.urandom(1024**2) for n in range(4)}, "w:gz")
    result = _scan(tmp_path, "shards.tar.gz", big, expanded_bytes=2 * 1024**2)
    assert result["status"] == "error" and "bytes once unpacked" in result["message"]


def test_a_compressed_tar_is_read_member_by_member(tmp_path, monkeypatch):
    """model.tar.gz is not unpacked whole onto the worker's disk: only one member at a time."""
    spooled: list[int] = []
    real_spool = scanning._spool

    @contextmanager
    def recording_spool(reader):
        with real_spool(reader) as copy:
            spooled.append(copy.seek(0, io.SEEK_END))
            copy.seek(0)
            yield copy

    monkeypatch.setattr(scanning, "_spool", recording_spool)
    members = {f"shard{n}.bin": b"\xff" + os.urandom(2 * 1024**2) for n in range(4)}
    archive = _tar({**members, "model/notes.txt": PICKLE_0}, "w:gz")
    assert _scan(tmp_path, "model.tar.gz", archive)["status"] == "unsafe"
    assert len(spooled) == 5 and max(spooled) < 3 * 1024**2


def test_deep_nesting_and_too_many_members_are_errors(tmp_path):
    nested = CLEAN_PICKLE
    for _ in range(scanning.Limits().depth + 1):
        nested = gzip.compress(nested)
    result = _scan(tmp_path, "model.gz", nested)
    assert result["status"] == "error" and "nested more than" in result["message"]
    many = _tar({f"f{n}.txt": b"x" for n in range(50)})
    assert _scan(tmp_path, "many.tar", many, members=20)["status"] == "error"
    assert _scan(tmp_path, "many.tar", many)["status"] == "safe"


def test_a_bomb_is_an_error_through_the_isolated_child_too(tmp_path):
    path = tmp_path / "weights.bin.gz"
    path.write_bytes(_gzip_bomb())
    assert scanning.scan_file_isolated(str(path), "weights.bin.gz")["status"] == "error"


@pytest.fixture
def eager_tasks():
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.mark.django_db(transaction=True)
def test_the_real_client_sees_unsafe_and_unscanned_never_safe(hub, alice, eager_tasks, client):
    """The commit queues a scan of every file; the worker's verdicts reach `securityFileStatus` as
    `huggingface_hub` reads it (`safe` is `status == "safe"`), and content with no scan on record
    (committed before this fix) is `unscanned`."""
    files = {
        "data.txt": PICKLE_0,
        "weights.bin": PICKLE_1,
        "weights.tar.gz": IN_CONTAINERS["weights.tar.gz"],
        "model.onnx": b"\xff\x08\x07" + bytes(range(256)) * 64,
        "README.md": b"# A model\n",
        "legacy.txt": b"committed before every file was scanned\n",
    }
    make_repo(alice, "scans", files)
    legacy = FileScan.objects.get(filename="legacy.txt")
    legacy.delete()
    api = HfApi()
    tree = {item.path: item.security for item in api.list_repo_tree("alice/scans", expand=True)}
    infos = {item.path: item.security for item in api.get_paths_info("alice/scans", list(files), expand=True)}
    for security in (tree, infos):
        assert {path: (s["status"], s["safe"]) for path, s in security.items() if path in files} == {
            "data.txt": ("unsafe", False),
            "weights.bin": ("unsafe", False),
            "weights.tar.gz": ("unsafe", False),
            "model.onnx": ("unscanned", False),
            "README.md": ("safe", True),
            "legacy.txt": ("unscanned", False),
        }
    # The portal says the same: badges in the file list, a warning on the file's page.
    listing = client.get("/alice/scans/tree/main").content.decode()
    assert 'data-testid="scan-data.txt">unsafe' in listing and 'data-testid="scan-legacy.txt">unscanned' in listing
    assert 'data-testid="scan-README.md"' not in listing
    page = client.get("/alice/scans/blob/main/legacy.txt").content.decode()
    assert 'data-testid="scan-warning"' in page and "UNSCANNED" in page
    repo_page = client.get("/alice/scans").content.decode()
    warning = repo_page.split('data-testid="security-warning"', 1)[1].split("</div>", 1)[0]
    assert "5 file(s) need attention" in warning and "<code>legacy.txt</code>" in warning
    assert "README.md" not in warning and 'data-testid="scan-pending"' not in repo_page


@pytest.mark.django_db
def test_the_upgrade_queues_old_safe_verdicts_and_content_never_scanned(alice):
    """Migration 0012: the old scanner's `safe` (a pickle in a gzip) and content it never read (a
    protocol 0 pickle as `data.txt`) are queued again, due at once for the beat."""
    from registry.services.scans import scans_requeue_stale

    make_repo(alice, "old", {"data.txt": PICKLE_0, "weights.gz": IN_CONTAINERS["weights.gz"]})
    old = {scan.filename: scan.sha256 for scan in FileScan.objects.filter(filename__in=["data.txt", "weights.gz"])}
    FileScan.objects.filter(filename="weights.gz").update(status="safe")
    FileScan.objects.filter(filename="data.txt").delete()  # the old code never queued it
    migration = importlib.import_module("registry.migrations.0012_file_scan_unscanned")
    migration.queue_unscanned_content(apps, None)
    assert set(FileScan.objects.filter(sha256__in=old.values()).values_list("status", flat=True)) == {"queued"}
    assert set(scans_requeue_stale().requeued) == set(old.values())


@pytest.mark.django_db
def test_files_waiting_for_their_scan_are_not_shown_as_safe(alice, client):
    make_repo(alice, "fresh", {"README.md": b"# fresh\n", "data.txt": PICKLE_0})  # the worker has not run
    assert set(FileScan.objects.values_list("status", flat=True)) == {"queued"}
    page = client.get("/alice/fresh").content.decode()
    assert "3 file(s) waiting for the security scan" in page and 'data-testid="security-warning"' not in page
    listing = client.get("/alice/fresh/tree/main").content.decode()
    assert 'data-testid="scan-README.md">queued' in listing
