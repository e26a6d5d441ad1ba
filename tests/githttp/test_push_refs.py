"""Ref updates of a push race nothing: each applies only while the ref still names the value the
pusher saw ("stale info" otherwise, as git words it), and a moved tag is a forced push, audited."""

from __future__ import annotations

import subprocess
import threading

import pytest
from django.db import connection, transaction

from core.errors import Conflict
from gating.models import AuditEvent
from registry.models import Ref, RefKind
from registry.services import branch_create, gitpush
from tests.githttp.test_push import _clone, _commit, _head
from tests.support.builders import commit_files, make_repo, token_for

pytestmark = pytest.mark.django_db(transaction=True)

FILES = {"README.md": b"# Refs\n", "config.json": b"{}\n"}


def test_a_moved_tag_is_audited_as_a_forced_push(git, alice, tmp_path):
    repo = make_repo(alice, "tagged", FILES)
    work = _clone(git, tmp_path, "alice/tagged", token_for(alice))
    first = _head(repo)
    git.run("tag", "v1", cwd=work)
    git.run("push", "origin", "v1", cwd=work)
    assert not AuditEvent.objects.filter(repo=repo, action="repo.git_force_push").exists()  # a creation
    second = _commit(git, work, {"a.txt": b"a\n"})
    git.run("push", "origin", "main", cwd=work)
    git.run("tag", "-f", "v1", cwd=work)
    git.run("push", "--force", "origin", "v1", cwd=work)
    assert _head(repo, "refs/tags/v1") == second
    event = AuditEvent.objects.get(repo=repo, action="repo.git_force_push")
    assert event.data == {"ref": "refs/tags/v1", "from": first, "to": second}
    assert event.actor == alice


def test_a_tag_update_or_branch_deletion_from_a_stale_value_is_refused(alice):
    repo = make_repo(alice, "stale", FILES)
    first = _head(repo)
    second = commit_files(repo, {"a.txt": b"a\n"}, author=alice).oid
    gitpush.tag_push(repo=repo, tag="v1", old_oid=None, new_oid=second, author=alice, may_rewrite=True)
    for old, new in ((first, first), (first, None), (None, first)):  # the pusher saw another value
        with pytest.raises(Conflict, match="stale info"):
            gitpush.tag_push(repo=repo, tag="v1", old_oid=old, new_oid=new, author=alice, may_rewrite=True)
    assert _head(repo, "refs/tags/v1") == second
    assert not AuditEvent.objects.filter(repo=repo, action="repo.git_force_push").exists()

    branch_create(repo=repo, branch="feature", starting_point=second)
    with pytest.raises(Conflict, match="stale info"):
        gitpush.branch_push_delete(repo=repo, branch="feature", old_oid=first)
    assert _head(repo, "refs/heads/feature") == second
    gitpush.branch_push_delete(repo=repo, branch="feature", old_oid=second)
    assert _head(repo, "refs/heads/feature") is None


def test_two_pushes_creating_the_same_ref_one_is_told_stale_info(git, alice, tmp_path):
    """A new ref has no row to lock: here another push's creation of `feature` is still
    uncommitted when this one inserts the same ref, which waits for it, then meets its row."""
    repo = make_repo(alice, "created", FILES)
    head = _head(repo)
    work = _clone(git, tmp_path, "alice/created", token_for(alice))
    _commit(git, work, {"mine.txt": b"mine\n"})
    created, release = threading.Event(), threading.Event()

    def other_push() -> None:
        try:
            with transaction.atomic():
                Ref.objects.create(repo=repo, name="refs/heads/feature", kind=RefKind.BRANCH, commit_oid=head)
                created.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=other_push)
    thread.start()
    assert created.wait(30)
    push = subprocess.Popen(  # noqa: S603 - git with fixed arguments, loopback server
        ["git", "push", "origin", "HEAD:refs/heads/feature"], cwd=work, env=git.env(), stderr=subprocess.PIPE, text=True
    )
    with connection.cursor() as cursor:  # let the push's insert wait on the other's row
        for _ in range(200):
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            if cursor.fetchone()[0] or push.poll() is not None:
                break
            threading.Event().wait(0.05)
    release.set()
    thread.join(30)
    _, stderr = push.communicate(timeout=60)
    assert push.returncode != 0
    assert "stale info" in stderr, stderr
    assert _head(repo, "refs/heads/feature") == head  # the other push's, untouched
