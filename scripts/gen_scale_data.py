"""Fill a PostgreSQL database with the data-at-scale set of issue 15, in minutes.

    DATABASE_URL=postgres://.../gh_scale .venv/bin/python scripts/gen_scale_data.py [--repos 100000]

What it makes (the counts are flags):
- 200,000 users, 1,000 organisations with members;
- 100,000 repos (models and datasets) owned by users and organisations, 10% private and 10% gated,
  with skewed likes and downloads, spread dates, and the card metadata and tag rows that
  `list_models`' search, filters and sorts read;
- 1,000,000 access requests: 200,000 on one repo (`scale-owner/big-queue`, the large queue), the
  rest spread over the gated repos;
- `scale-owner/big-files`: one commit of 50,000 files made by the real commit service (a real git
  tree in the registry's object tables: 100 folders of 400 files under `data/` and 10,000 files
  in one flat folder `images/`), so tree listings go through the real code;
- `scale-owner/big-thread`: discussion #1 with 5,000 comments.

Why a script and not a management command: it writes the rows of every app (registry, gating,
community, accounts), so it belongs to none of them, and it is a tool for benchmarks and migration
timings, not an operator command. The bulk rows are made by PostgreSQL itself (INSERT ... SELECT
over generate_series: no row crosses the wire); the three special repos are made through the
services, so their history, trees and threads are what the application itself writes.
It refuses to run twice on one database (the marker is the user `scale-owner`) and on SQLite.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OWNER = "scale-owner"
BIG_FILES, BIG_QUEUE, BIG_THREAD = "big-files", "big-queue", "big-thread"
WORDS = (
    "llama",
    "mistral",
    "bert",
    "gpt",
    "vit",
    "whisper",
    "clip",
    "t5",
    "roberta",
    "falcon",
    "qwen",
    "gemma",
    "phi",
    "stable",
    "diffusion",
    "sdxl",
    "flux",
    "wav2vec",
    "yolo",
    "resnet",
    "deberta",
    "electra",
    "bloom",
    "opt",
    "pythia",
    "mamba",
)
PIPELINES = (
    "text-generation",
    "text-classification",
    "token-classification",
    "fill-mask",
    "translation",
    "summarization",
    "image-classification",
    "text-to-image",
    "automatic-speech-recognition",
    "feature-extraction",
)
LIBRARIES = ["transformers", "diffusers", "timm", "sentence-transformers", "peft", "gguf"]
LICENSES = ["apache-2.0", "mit", "cc-by-4.0", "openrail", "llama3", "other"]


def _sql_array(values: list[str]) -> str:
    return "ARRAY[" + ",".join(f"'{value}'" for value in values) + "]"


BULK_SQL = """
CREATE TEMP TABLE scale_users AS
SELECT id, row_number() OVER (ORDER BY id) - 1 AS i FROM accounts_user WHERE username LIKE 'su-%%';
CREATE UNIQUE INDEX ON scale_users (i);
CREATE TEMP TABLE scale_orgs AS
SELECT id, name, row_number() OVER (ORDER BY id) - 1 AS i FROM accounts_organization WHERE name LIKE 'so-%%';
CREATE UNIQUE INDEX ON scale_orgs (i);

INSERT INTO accounts_membership (org_id, user_id, role, created_at)
SELECT o.id, u.id, 'write', now() FROM scale_orgs o JOIN scale_users u ON u.i BETWEEN o.i * 5 AND o.i * 5 + 4;

-- Repos: n is the number; 80%% owned by users, 20%% by organisations.
CREATE TEMP TABLE scale_repos AS
SELECT n,
       CASE WHEN n %% 5 = 4 THEN NULL ELSE (n * 7) %% %(owner_users)s END AS user_i,
       CASE WHEN n %% 5 = 4 THEN (n / 5) %% %(orgs)s ELSE NULL END AS org_i,
       words[1 + (n * 13) %% cardinality(words)] || '-' || words[1 + (n / 7) %% cardinality(words)]
           || '-' || n AS name,
       pipelines[1 + n %% cardinality(pipelines)] AS pipeline,
       libraries[1 + (n / 3) %% cardinality(libraries)] AS library,
       licenses[1 + (n / 11) %% cardinality(licenses)] AS license
FROM generate_series(0::bigint, %(repos)s - 1) AS n,
     (SELECT %(words)s AS words, %(pipelines)s AS pipelines, %(libraries)s AS libraries,
             %(licenses)s AS licenses) AS lists;

INSERT INTO registry_repo (repo_type, namespace, name, owner_user_id, owner_org_id, private, gated, disabled,
    default_branch, created_at, last_modified, downloads, likes, card_data, license, pipeline_tag, library_name,
    base_models, used_storage, deleted_at, history_epoch, disabled_reason)
SELECT CASE WHEN r.n %% 10 = 9 THEN 'dataset' ELSE 'model' END,
       COALESCE('su-' || u.i, o.name), r.name, u.id, o.id,
       r.n %% 10 = 3,
       CASE r.n %% 20 WHEN 5 THEN 'auto' WHEN 15 THEN 'manual' ELSE '' END,
       false, 'main',
       now() - make_interval(secs => r.n * 300 + (r.n * 7919) %% 3600),
       now() - make_interval(secs => (r.n * 104729) %% (86400 * 365)),
       floor(power(((r.n * 48271) %% 100000) / 100000.0, 8) * 10000000)::bigint,
       floor(power(((r.n * 16807) %% 100000) / 100000.0, 10) * 50000)::int,
       jsonb_build_object('license', r.license, 'pipeline_tag', r.pipeline, 'library_name', r.library,
                          'tags', jsonb_build_array(r.library, 'en')),
       r.license, r.pipeline, r.library, '[]'::jsonb, 0, NULL, 0, ''
FROM scale_repos r LEFT JOIN scale_users u ON u.i = r.user_i LEFT JOIN scale_orgs o ON o.i = r.org_i;

INSERT INTO registry_repotag (repo_id, tag)
SELECT id, tag FROM registry_repo,
     LATERAL unnest(ARRAY[library_name, pipeline_tag, 'license:' || license, 'en']) AS tag
WHERE namespace <> %(owner)s;

-- The large queue: one request per user, 70%% pending, 25%% accepted, 5%% rejected.
INSERT INTO gating_accessrequest (repo_id, user_id, status, fields, created_at, decided_at, decided_by_id,
    rejection_reason, expires_at, expiry_recorded, requested_by_user)
SELECT %(queue_repo)s, u.id,
       CASE WHEN u.i %% 20 < 14 THEN 'pending' WHEN u.i %% 20 < 19 THEN 'accepted' ELSE 'rejected' END,
       jsonb_build_object('company', 'Org ' || (u.i %% 500), 'reason', 'research'),
       now() - make_interval(secs => u.i * 60),
       CASE WHEN u.i %% 20 >= 14 THEN now() - make_interval(secs => u.i * 30) END,
       CASE WHEN u.i %% 20 >= 14 THEN %(owner_id)s END,
       CASE WHEN u.i %% 20 = 19 THEN 'not eligible' ELSE '' END,
       NULL, false, true
FROM scale_users u WHERE u.i < %(queue)s;

-- The rest, spread over the gated repos: user (g * 131 + j * 2503) mod users is distinct per repo.
INSERT INTO gating_accessrequest (repo_id, user_id, status, fields, created_at, decided_at, decided_by_id,
    rejection_reason, expires_at, expiry_recorded, requested_by_user)
SELECT g.id, u.id,
       CASE WHEN j %% 3 = 0 THEN 'pending' ELSE 'accepted' END, '{}'::jsonb,
       now() - make_interval(secs => (g.g * 977 + j * 61) %% (86400 * 365)),
       CASE WHEN j %% 3 <> 0 THEN now() END, NULL, '', NULL, false, true
FROM (SELECT id, row_number() OVER (ORDER BY id) - 1 AS g FROM registry_repo
      WHERE gated <> '' AND namespace <> %(owner)s) AS g
CROSS JOIN generate_series(0::bigint, %(per_repo)s - 1) AS j
JOIN scale_users u ON u.i = (g.g * 131 + j * 2503) %% %(users)s
WHERE g.g * %(per_repo)s + j < %(spread)s;
"""


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _step(label: str, started: float) -> float:
    now = time.monotonic()
    print(f"  {label}: {now - started:.1f} s", flush=True)
    return now


def generate(args: argparse.Namespace) -> None:
    from django.db import connection, transaction

    from accounts import services as account_services
    from accounts.models import Membership, Organization, User
    from community.models import Event
    from community.rendering import html_backfill
    from community.services import discussions
    from gating.models import AccessRequest
    from registry import services
    from registry.models import Repo, RepoTag

    if connection.vendor != "postgresql":
        raise SystemExit("The data-at-scale set is for PostgreSQL (set DATABASE_URL).")
    if User.objects.filter(username=OWNER).exists():
        print(f"Already generated ({OWNER} exists); drop and re-create the database to start again.")
        return
    started = begin = time.monotonic()
    owner, _ = account_services.user_ensure(username=OWNER, email=f"{OWNER}@example.org", password="x" * 24)
    with transaction.atomic(), connection.cursor() as cursor, _model_defaults_in_db(cursor, [User, Organization]):
        cursor.execute(
            "INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff,"
            " is_active, date_joined, fullname, disabled_reason, email_verification_waived, session_epoch)"
            " SELECT '!', false, 'su-' || n, '', '', 'su-' || n || '@example.org', false, true, now(),"
            " 'Scale User ' || n, '', false, 0 FROM generate_series(0, %s - 1) AS n",
            [args.users],
        )
        cursor.execute(
            "INSERT INTO accounts_organization (name, fullname, created_at, repos_private_by_default)"
            " SELECT 'so-' || n, 'Scale Org ' || n, now(), false FROM generate_series(0, %s - 1) AS n",
            [args.orgs],
        )
    started = _step(f"{args.users:,} users, {args.orgs:,} organisations", started)

    queue_repo = services.repo_create(namespace=OWNER, name=BIG_QUEUE, private=False, creator=owner)
    services.repo_settings_update(repo=queue_repo, gated="manual", actor=owner)
    queue = min(args.queue, args.users)
    spread = max(args.requests - queue, 0)
    gated = max(args.repos // 10, 1)
    params = {
        "repos": args.repos,
        "users": args.users,
        "owner_users": min(args.users, 20_000),
        "orgs": args.orgs,
        "owner": OWNER,
        "owner_id": owner.pk,
        "queue_repo": queue_repo.pk,
        "queue": queue,
        "spread": spread,
        "per_repo": -(-spread // gated),
        "words": _sql_array(WORDS),
        "pipelines": _sql_array(PIPELINES),
        "libraries": _sql_array(LIBRARIES),
        "licenses": _sql_array(LICENSES),
    }
    bulk_models = [Membership, Repo, RepoTag, AccessRequest]
    with transaction.atomic(), connection.cursor() as cursor, _model_defaults_in_db(cursor, bulk_models):
        for statement in BULK_SQL.split(";\n"):
            if statement.strip():
                cursor.execute(statement % {key: _literal(value) for key, value in params.items()})
        cursor.execute("DROP TABLE scale_users, scale_orgs, scale_repos")
    started = _step(f"{args.repos:,} repos with tags, {queue + spread:,} access requests", started)

    _big_files(owner, args.files)
    started = _step(f"{BIG_FILES}: {args.files:,} files in one commit", started)

    thread_repo = services.repo_create(namespace=OWNER, name=BIG_THREAD, private=False, creator=owner)
    discussion = discussions.discussion_create(
        repo=thread_repo, author=owner, title="A long thread", description="The first comment."
    )
    with transaction.atomic(), connection.cursor() as cursor, _model_defaults_in_db(cursor, [Event]):
        cursor.execute(
            "INSERT INTO community_event (public_id, discussion_id, type, author_id, created_at, data, raw)"
            " SELECT substr(md5(random()::text || n), 1, 24), %s, 'comment', %s,"
            " now() - make_interval(secs => %s - n), '{}'::jsonb,"
            " 'Comment **' || n || '** with a [link](https://example.org/' || n || ') and `code`.'"
            " FROM generate_series(1, %s - 1) AS n",
            [discussion.pk, owner.pk, args.comments, args.comments],
        )
    html_backfill(Event)  # their HTML, as each comment stores it when written
    started = _step(f"{BIG_THREAD}: discussion #{discussion.num} with {args.comments:,} comments", started)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    _step("VACUUM ANALYZE", started)
    print(f"Generated in {time.monotonic() - begin:.1f} s; {Repo.objects.count():,} repos.")


@contextlib.contextmanager
def _model_defaults_in_db(cursor, models):
    """The bulk INSERTs name only the columns they set; a NOT NULL column added later with a
    Python-side default, or a text column whose empty value is "" (Django sets neither in the
    database), would fail them. For the length of the block, each such column of `models` gets
    that value as a database default."""
    from django.db import connection

    columns = []
    for model in models:
        for field in model._meta.local_concrete_fields:
            default = None if field.null or field.primary_key else field.get_default()  # "" for text fields
            if default is None:
                continue
            value = field.get_db_prep_save(default, connection)
            table, column = (connection.ops.quote_name(name) for name in (model._meta.db_table, field.column))
            cursor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT %s", [value])
            columns.append((table, column))
    yield
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no ALTER TABLE while deferred checks are pending
    for table, column in columns:
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT")


def _literal(value):
    """SQL text of a value we made ourselves (numbers, the fixed word lists, the owner's name)."""
    if isinstance(value, int) or (isinstance(value, str) and value.startswith("ARRAY[")):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _big_files(owner, count: int) -> None:
    """One commit of `count` files through the commit service: 1,000 distinct small contents (each
    stored once), 80% of the paths in 100 folders under data/, 20% flat in images/."""
    from registry import services

    repo = services.repo_create(namespace=OWNER, name=BIG_FILES, private=False, creator=owner)
    contents = [
        services.blob_stage(repo=repo, path=f"c/{i}.txt", content=f"content {i}\n".encode(), lfs=False, proof_from=None)
        for i in range(1000)
    ]
    flat = count // 5
    operations = []
    for i in range(count):
        path = f"images/{i:06d}.txt" if i < flat else f"data/part-{i % 100:03d}/{i:06d}.txt"
        staged = contents[i % len(contents)]
        operations.append(services.AddFile(path, staged.sha256, staged.size, staged.is_lfs, staged.blob_oid))
    services.commit_create(repo=repo, branch="main", operations=operations, summary="50,000 files", author=owner)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--orgs", type=int, default=1_000)
    parser.add_argument("--repos", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--queue", type=int, default=200_000, help="requests on the one large queue")
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--comments", type=int, default=5_000)
    args = parser.parse_args()
    _setup()
    generate(args)


if __name__ == "__main__":
    main()
