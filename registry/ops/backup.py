"""Backups of a running hub, and restoring one onto a fresh install (`manage.py backup`,
`manage.py restore`; issue 17).

A backup is a folder: `database.sqlite3` (SQLite's online backup API) or `database.pgdump`
(`pg_dump -Fc`, one consistent snapshot), then `storage/`, a copy of the blob store without its
temporary folders, and `manifest.json`. The database is copied first: every blob a snapshot names
was stored before its commit was (commits check their objects exist inside their transaction),
and blobs are removed only by `gc_blobs`, so the copy of the store that follows holds everything
the snapshot needs. While a backup runs, `gc_blobs` refuses to start or to sweep (a `BackupRun`
row per backup, in the database every host shares). Blob files are named by their hash and
never change, so backing up into the folder of an earlier backup copies only new ones.

On the S3 backend (`GATEHOUSE_STORAGE_URL`) `storage/` is filled from the bucket instead: each
area's objects (blobs, Xet xorbs and shards, previews) are downloaded into the local layout
(`storage/<area>/objects/ab/cd/<name>`), skipping those the folder already holds with the same
size; staged LFS uploads and snapshots being verified are not content and are left out. Restoring
uploads them into the configured bucket and prefix the same way, so a bucket's backup restores onto
another bucket (or prefix), and the restore's fsck re-hashes every object it names.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.errors import BadRequest
from core.timeutil import isoformat_z
from registry.models import BackupRun
from registry.storage import SHA256_RE, get_storage, get_xet_shard_storage, get_xet_storage, storage_at

if TYPE_CHECKING:
    from registry.storage.s3storage import S3Storage

TEMPORARY = {"tmp"}  # each store's folder of uploads in flight

DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}


class BackupRunning(RuntimeError):
    """gc_blobs while a backup runs: the blobs its database snapshot names must stay."""


def refuse_during_backup() -> None:
    run = BackupRun.objects.order_by("started_at").first()
    if run is not None:
        raise BackupRunning(
            f"A backup has been running since {isoformat_z(run.started_at)} (host {run.host}, pid {run.pid}, "
            f"into {run.destination}): garbage collection waits for it to end. A backup killed before it "
            f"ended holds it back until `manage.py gc_blobs --clear-backup-flag`, once you know none runs."
        )


@dataclass
class BackupReport:
    database: str
    files: int = 0
    copied: int = 0
    bytes: int = 0


def _pg_environment() -> tuple[list[str], dict[str, str]]:
    db = settings.DATABASES["default"]
    args = ["-h", str(db["HOST"] or "127.0.0.1"), "-p", str(db["PORT"] or 5432), "-U", str(db["USER"] or "postgres")]
    env = {**os.environ}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return args, env


def _storage_files(root: Path) -> Iterator[Path]:
    for folder, subfolders, files in os.walk(root):
        if Path(folder) == root or Path(folder).parent == root:
            subfolders[:] = [name for name in subfolders if name not in TEMPORARY]
        for name in files:
            yield Path(folder) / name


def _copy_file(source: Path, target: Path) -> None:
    """Copy through a temporary name and fsync, so a backup cut short leaves no partial blob."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    with open(source, "rb") as src, open(partial, "wb") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(partial, target)


def copy_tree(source: Path, target: Path, report: BackupReport) -> None:
    for path in _storage_files(source):
        destination = target / path.relative_to(source)
        size = path.stat().st_size
        report.files += 1
        report.bytes += size
        if destination.is_file() and destination.stat().st_size == size:
            continue  # content-addressed: the same name holds the same bytes
        _copy_file(path, destination)
        report.copied += 1


def backup(destination: Path) -> BackupReport:
    run = BackupRun.objects.create(
        destination=str(destination)[:1024], host=socket.gethostname()[:255], pid=os.getpid()
    )
    try:
        return _backup(destination)
    finally:
        run.delete()


def clear_running_flag() -> None:
    BackupRun.objects.all().delete()


def _refuse_inside_the_store(destination: Path) -> None:
    """A backup inside a folder it copies would copy itself into itself at every run (and put
    its database in the blob store): refused (found by an outsider)."""
    target = destination.resolve()
    roots = [settings.GATEHOUSE_STORAGE_ROOT, settings.GATEHOUSE_PREVIEW_MEDIA_ROOT]
    for root in (Path(r).resolve() for r in roots if r):
        # Either way round: a store inside the destination may be one of the backup's own folders.
        if target == root or root in target.parents or target in root.parents:
            raise BadRequest(f"Back up outside the hub's storage ({root}), not into {destination}.")


def _backup(destination: Path) -> BackupReport:
    _refuse_inside_the_store(destination)
    destination.mkdir(parents=True, exist_ok=True)
    # A backup into an older one's folder: its manifest goes first and the new one is written
    # last, so a run cut short never leaves a folder that looks complete but lacks blobs.
    (destination / "manifest.json").unlink(missing_ok=True)
    if connection.vendor == "sqlite":
        report = BackupReport(database="database.sqlite3")
        partial = destination / "database.sqlite3.partial"
        partial.unlink(missing_ok=True)
        source = sqlite3.connect(str(settings.DATABASES["default"]["NAME"]))
        target = sqlite3.connect(str(partial))
        try:
            source.backup(target)  # a consistent snapshot while the hub keeps writing
            # Not in WAL mode: opening it later (the restore, read-only media) makes no -wal/-shm.
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
            source.close()
        os.replace(partial, destination / report.database)
    elif connection.vendor == "postgresql":
        report = BackupReport(database="database.pgdump")
        args, env = _pg_environment()
        partial = destination / "database.pgdump.partial"
        name = str(settings.DATABASES["default"]["NAME"])
        subprocess.run(["pg_dump", "-Fc", "--no-owner", "-f", str(partial), *args, name], env=env, check=True)
        os.replace(partial, destination / report.database)
    else:
        raise BadRequest(f"No backup for the {connection.vendor} database.")
    if settings.GATEHOUSE_STORAGE_URL:
        bucket_to_folder(destination / "storage", report)  # previews included (storage/previews)
    else:
        copy_tree(Path(settings.GATEHOUSE_STORAGE_ROOT), destination / "storage", report)
        # Rendered previews live in a store of their own (workers.media), outside the blob store.
        copy_tree(Path(settings.GATEHOUSE_PREVIEW_MEDIA_ROOT), destination / "previews", report)
    manifest = {
        "created_at": isoformat_z(timezone.now()),
        "database": report.database,
        "vendor": connection.vendor,
        "storage": "s3" if settings.GATEHOUSE_STORAGE_URL else "local",
        "files": report.files,
        "bytes": report.bytes,
    }
    partial = destination / "manifest.json.partial"
    partial.write_text(json.dumps(manifest, indent=2) + "\n")
    _copy_file(partial, destination / "manifest.json")
    partial.unlink()
    return report


def restore(source: Path) -> BackupReport:
    """Onto a fresh install, with the hub stopped: the database must hold no repo yet."""
    manifest = _read_manifest(source)
    if manifest["vendor"] != connection.vendor:
        raise BadRequest(f"This backup is of a {manifest['vendor']} database; this install uses {connection.vendor}.")
    _refuse_unless_fresh()
    report = BackupReport(database=manifest["database"])
    if connection.vendor == "sqlite":
        connection.close()
        # Through SQLite's backup API, not a file copy: the fresh install's database is in WAL
        # mode, and a copy over it would have its leftover -wal replayed onto the restored file.
        backed_up = sqlite3.connect(f"file:{source / report.database}?mode=ro", uri=True)
        target = sqlite3.connect(str(settings.DATABASES["default"]["NAME"]))
        try:
            backed_up.backup(target)
        finally:
            target.close()
            backed_up.close()
    else:
        connection.close()
        args, env = _pg_environment()
        name = str(settings.DATABASES["default"]["NAME"])
        command = ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", *args, "-d", name]
        subprocess.run([*command, str(source / report.database)], env=env, check=True)
    # The snapshot holds the backup's own BackupRun row (and any other then running): not here.
    # (A backup of an older version has no such table yet: the restore command migrates next.)
    if BackupRun._meta.db_table in connection.introspection.table_names():
        BackupRun.objects.all().delete()
    if settings.GATEHOUSE_STORAGE_URL:
        folder_to_bucket(source / "storage", report)
    else:
        copy_tree(source / "storage", Path(settings.GATEHOUSE_STORAGE_ROOT), report)
        if (source / "previews").is_dir():  # (backups of older versions have none)
            copy_tree(source / "previews", Path(settings.GATEHOUSE_PREVIEW_MEDIA_ROOT), report)
    return report


def _read_manifest(source: Path) -> dict:
    try:
        manifest = json.loads((source / "manifest.json").read_text())
    except FileNotFoundError:
        raise BadRequest(f"{source} holds no manifest.json: not a backup, or one that did not finish.") from None
    except (OSError, ValueError) as exc:
        raise BadRequest(f"{source}/manifest.json cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or not all(isinstance(manifest.get(k), str) for k in ("vendor", "database")):
        raise BadRequest(f"{source}/manifest.json is not a backup's manifest (it needs 'vendor' and 'database').")
    if manifest["database"] != DATABASE_FILES.get(manifest["vendor"]):
        raise BadRequest(f"{source}/manifest.json names no database this version writes.")
    return manifest


def _refuse_unless_fresh() -> None:
    tables = connection.introspection.table_names()
    if "registry_repo" not in tables:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM registry_repo")
        (count,) = cursor.fetchone()
    if count:
        raise BadRequest(f"This install already holds {count} repos: restore onto a fresh one.")


def _bucket_areas() -> dict[str, S3Storage]:
    """Each area of content in the bucket, by its folder in the local layout."""
    stores = {"": get_storage(), "xet": get_xet_storage(), "xet-shards": get_xet_shard_storage()}
    stores["previews"] = storage_at("previews", Path(settings.GATEHOUSE_PREVIEW_MEDIA_ROOT))  # workers.media's
    return {folder: cast("S3Storage", store) for folder, store in stores.items()}


def bucket_to_folder(target: Path, report: BackupReport) -> None:
    from registry.storage.s3storage import TRANSFER, _reaching_store  # boto3: only on the S3 backend

    for folder, store in _bucket_areas().items():
        for name, size, _modified in store.iter_objects():
            destination = target / folder / "objects" / name[:2] / name[2:4] / name
            report.files += 1
            report.bytes += size
            if destination.is_file() and destination.stat().st_size == size:
                continue  # content-addressed: the same name holds the same bytes
            destination.parent.mkdir(parents=True, exist_ok=True)
            partial = destination.with_name(f".{name}.partial")
            with _reaching_store():
                store.client.download_file(store.bucket, store.key_for(name), str(partial), Config=TRANSFER)
            with open(partial, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(partial, destination)
            report.copied += 1


def folder_to_bucket(source: Path, report: BackupReport) -> None:
    from registry.storage.s3storage import TRANSFER, _reaching_store

    for folder, store in _bucket_areas().items():
        objects = source / folder / "objects"
        if not objects.is_dir():
            continue
        for path in sorted(objects.glob("??/??/*")):
            if not SHA256_RE.match(path.name):
                continue  # a partial copy, or not content
            size = path.stat().st_size
            report.files += 1
            report.bytes += size
            found = store.info(path.name)
            if found is not None and found[0] == size:
                continue
            with _reaching_store():
                store.client.upload_file(str(path), store.bucket, store.key_for(path.name), Config=TRANSFER)
            report.copied += 1
