"""Pickle scanning of uploads: pickles inside zip archives (torch.save's format) are found and
flagged, through the scanner alone and through a commit, the worker and the tree listing."""

import io
import os
import pickle
import zipfile

import pytest

from registry import scanning
from registry.models import FileScan
from tests.support.builders import make_repo


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def _torch_style_zip(payload: bytes) -> bytes:
    """The layout torch.save writes (archive/data.pkl plus raw storages), built by hand."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/byteorder", b"little")
        archive.writestr("archive/data/0", b"\0" * 64)
        archive.writestr("archive/version", b"3\n")
    return buffer.getvalue()


EVIL_ZIP = _torch_style_zip(pickle.dumps(_Evil(), protocol=2))
CLEAN_ZIP = _torch_style_zip(pickle.dumps({"layer.weight": [0.5, 1.5]}, protocol=2))


@pytest.mark.parametrize("filename", ["model.pt", "pytorch_model.bin", "checkpoint.ckpt", "weights.data", "blob"])
def test_a_malicious_pickle_inside_a_zip_is_unsafe_whatever_the_name(tmp_path, filename):
    path = tmp_path / "upload"
    path.write_bytes(EVIL_ZIP)
    result = scanning.scan_file(str(path), filename)
    assert result["status"] == "unsafe"
    assert any(item["name"] == "system" and item["safety"] == "dangerous" for item in result["imports"])
    path.write_bytes(CLEAN_ZIP)
    assert scanning.scan_file(str(path), filename)["status"] == "safe"


@pytest.mark.django_db
def test_a_committed_torch_zip_is_scanned_and_flagged_in_the_tree(client, alice, django_capture_on_commit_callbacks):
    from config.celery import app

    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            make_repo(alice, "zips", {"evil.pt": EVIL_ZIP, "clean.pt": CLEAN_ZIP})
    finally:
        app.conf.task_always_eager = False
    scans = {scan.filename: scan.status for scan in FileScan.objects.all()}
    assert scans == {"evil.pt": "unsafe", "clean.pt": "safe", ".gitattributes": "safe"}
    tree = {item["path"]: item for item in client.get("/api/models/alice/zips/tree/main?expand=true").json()}
    evil = tree["evil.pt"]["securityFileStatus"]
    assert evil["status"] == "unsafe" and "can run code" in evil["pickleImportScan"]["message"]
    assert tree["clean.pt"]["securityFileStatus"]["status"] == "safe"


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("protocol", [0, 1])
def test_an_old_protocol_pickle_under_any_name_in_a_zip_is_unsafe(tmp_path, protocol):
    """picklescan opens zip entries by name or protocol 2+ header only; our second pass reads the
    rest, and trailing junk after the pickle does not hide it."""
    path = tmp_path / "upload"
    for payload in (pickle.dumps(_Evil(), protocol=protocol), pickle.dumps(_Evil(), protocol=protocol) + b"junk"):
        path.write_bytes(_zip({"archive/payload": payload, "archive/version": b"3\n"}))
        result = scanning.scan_file(str(path), "model.zip")
        assert result["status"] == "unsafe", result
        assert any(item["name"] == "system" for item in result["imports"])


def test_ordinary_zip_entries_are_not_mistaken_for_pickles(tmp_path):
    path = tmp_path / "upload"
    entries = {"README.txt": b"config\nnotes\n", "archive/byteorder": b"little", "archive/data/0": os.urandom(4096)}
    entries["ok"] = pickle.dumps({"lr": 0.1}, protocol=0)
    path.write_bytes(_zip(entries))
    assert scanning.scan_file(str(path), "bundle.zip")["status"] == "safe"
    # A member in a format the scanner cannot read leaves the archive unscanned, not flagged.
    path.write_bytes(_zip({**entries, "blob": b"\xff" + os.urandom(200_000)}))
    assert scanning.scan_file(str(path), "bundle.zip")["status"] == "unscanned"


def test_bytes_after_a_pickle_do_not_hide_its_unknown_imports(tmp_path):
    path = tmp_path / "upload"
    payload = b"cshady_module\nrun\n(S'x'\ntR."
    for entry in (payload, payload + b"junk"):
        path.write_bytes(_zip({"archive/payload": entry}))
        assert scanning.scan_file(str(path), "model.zip")["status"] == "suspicious"


def test_a_zip_with_a_prefix_is_still_read(tmp_path):
    path = tmp_path / "upload"
    path.write_bytes(b"#!/bin/sh\n" + _zip({"archive/payload": pickle.dumps(_Evil(), protocol=0)}))
    assert scanning.scan_file(str(path), "model.zip")["status"] == "unsafe"


def test_small_files_are_scanned_in_the_worker_and_what_reaches_its_limits_in_the_child(tmp_path, monkeypatch):
    """A child process costs more than scanning a small file; the tighter in-process limits send
    anything bigger to the child, whose limits are the full ones."""
    import subprocess
    import tarfile

    children = []
    real_run = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda *a, **kw: children.append(a) or real_run(*a, **kw))
    path = tmp_path / "upload"
    path.write_bytes(pickle.dumps(_Evil(), protocol=0))
    assert scanning.scan_file_isolated(str(path), "data.txt")["status"] == "unsafe" and children == []

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("notes.txt")
        info.size = 10_000
        archive.addfile(info, io.BytesIO(b"notes\n" * 2000 + b"done"))
    path.write_bytes(buffer.getvalue())
    monkeypatch.setattr(scanning, "IN_PROCESS_LIMITS", scanning.Limits(expanded_bytes=1024))
    assert scanning.scan_file_isolated(str(path), "notes.tar.gz")["status"] == "safe" and len(children) == 1
