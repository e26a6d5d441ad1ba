"""Backups of a running hub, and restoring one onto a fresh install (`manage.py backup`,
`manage.py restore`; issue 17).

A backup is a folder: `database.sqlite3` (SQLite's online backup API) or `database.pgdump`
(`pg_dump -Fc`, one consistent snapshot), then `storage/`, a copy of the blob store without its
temporary folders, and `manifest.json`. The database is copied first: every blob a snapshot names
was stored before its commit was (commits check their objects exist inside their transaction),
and blobs are removed only by `gc_blobs`, so the copy of the store that follows holds everything
the snapshot needs. Do not run `gc_blobs` during a backup. Blob files are named by their hash and
never change, so backing up into the folder of an earlier backup copies only new ones.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.errors import BadRequest
from core.timeutil import isoformat_z

TEMPORARY = {"tmp"}  # each store's folder of uploads in flight


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
    destination.mkdir(parents=True, exist_ok=True)
    if connection.vendor == "sqlite":
        report = BackupReport(database="database.sqlite3")
        partial = destination / "database.sqlite3.partial"
        partial.unlink(missing_ok=True)
        source = sqlite3.connect(str(settings.DATABASES["default"]["NAME"]))
        target = sqlite3.connect(str(partial))
        try:
            source.backup(target)  # a consistent snapshot while the hub keeps writing
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
    copy_tree(Path(settings.GATEHOUSE_STORAGE_ROOT), destination / "storage", report)
    manifest = {
        "created_at": isoformat_z(timezone.now()),
        "database": report.database,
        "vendor": connection.vendor,
        "files": report.files,
        "bytes": report.bytes,
    }
    (destination / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return report


def restore(source: Path) -> BackupReport:
    """Onto a fresh install, with the hub stopped: the database must hold no repo yet."""
    manifest = json.loads((source / "manifest.json").read_text())
    if manifest["vendor"] != connection.vendor:
        raise BadRequest(f"This backup is of a {manifest['vendor']} database; this install uses {connection.vendor}.")
    _refuse_unless_fresh()
    report = BackupReport(database=manifest["database"])
    if connection.vendor == "sqlite":
        connection.close()
        target = Path(settings.DATABASES["default"]["NAME"])
        _copy_file(source / report.database, target)
    else:
        connection.close()
        args, env = _pg_environment()
        name = str(settings.DATABASES["default"]["NAME"])
        command = ["pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction", *args, "-d", name]
        subprocess.run([*command, str(source / report.database)], env=env, check=True)
    copy_tree(source / "storage", Path(settings.GATEHOUSE_STORAGE_ROOT), report)
    return report


def _refuse_unless_fresh() -> None:
    tables = connection.introspection.table_names()
    if "registry_repo" not in tables:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM registry_repo")
        (count,) = cursor.fetchone()
    if count:
        raise BadRequest(f"This install already holds {count} repos: restore onto a fresh one.")
