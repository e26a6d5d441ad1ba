"""registry.ops.backup in process (the round trips of a running hub are tests/chaos, slow)."""

from __future__ import annotations

import json

import pytest

from registry.ops import backup

pytestmark = pytest.mark.django_db


def test_a_backup_cut_short_in_an_older_ones_folder_leaves_no_manifest(tmp_path, monkeypatch):
    """Found by a review: the older manifest stayed until the end, so a run cut short left a
    folder that looked complete while naming blobs it lacked."""
    backup.backup(tmp_path)
    assert json.loads((tmp_path / "manifest.json").read_text())["database"]

    def cut_short(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(backup, "copy_tree", cut_short)
    monkeypatch.setattr(backup, "bucket_to_folder", cut_short)
    with pytest.raises(OSError):
        backup.backup(tmp_path)
    assert not (tmp_path / "manifest.json").exists()
    assert not list(tmp_path.glob("*.partial"))


def test_garbage_collection_waits_for_a_running_backup(tmp_path, monkeypatch):
    """Found by a review: "do not run gc_blobs during a backup" was only a docstring, and a blob
    the snapshot names but no commit references any more could go before it was copied."""
    from django.core.management import CommandError, call_command

    seen = []

    def copying(source, target, report):  # the backup's copy of the store, in progress
        with pytest.raises(CommandError, match="A backup has been running since"):
            call_command("gc_blobs")
        seen.append(source)

    monkeypatch.setattr(backup, "copy_tree", copying)
    backup.backup(tmp_path)
    assert seen
    call_command("gc_blobs")  # the backup ended: collection runs again

    monkeypatch.setattr(backup, "copy_tree", lambda *args: (_ for _ in ()).throw(OSError("killed")))
    with pytest.raises(OSError):
        backup.backup(tmp_path)
    call_command("gc_blobs")  # a backup that failed cleared its flag too


def test_a_backup_into_the_store_and_a_restore_of_a_bad_manifest_are_clear_errors(tmp_path, settings):
    """Found by an outsider: `backup $VAR/storage/x` was accepted (its database landed in the
    blob store, each run nesting one level deeper), and a manifest of `{}` was a KeyError."""
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="Back up outside the hub's storage"):
        call_command("backup", str(settings.GATEHOUSE_STORAGE_ROOT / "x"))
    assert not (settings.GATEHOUSE_STORAGE_ROOT / "x").exists()
    for text in ("{}", "[]", "not json", '{"vendor": "postgresql", "database": "../../etc/passwd"}'):
        (tmp_path / "manifest.json").write_text(text)
        with pytest.raises(CommandError, match="manifest.json"):
            call_command("restore", str(tmp_path))


def test_each_backup_holds_garbage_collection_back_until_it_ends(tmp_path):
    """Found by a recheck: one shared flag in the cache was evicted by the embedded default's file
    cache (300 entries) and cleared by the first of two backups to end."""
    from django.core.management import CommandError, call_command

    from registry.models import BackupRun

    BackupRun.objects.create(destination="/elsewhere", host="other-host", pid=1)  # still running
    backup.backup(tmp_path)  # this one ends
    with pytest.raises(CommandError, match="host other-host, pid 1"):
        call_command("gc_blobs")
    call_command("gc_blobs", "--clear-backup-flag")  # the operator knows it was killed
    assert not BackupRun.objects.exists()
