"""What a push may leave out of its pack: only objects of this repo's own history (registry.git.held)."""

from __future__ import annotations

import pytest

from registry.git import gitobjects
from registry.git.held import BLOB, TREE, HeldObjects
from registry.models import Commit, Ref
from tests.support.builders import make_repo

pytestmark = pytest.mark.django_db


def test_objects_of_another_repo_are_not_held(alice, bob):
    text = b"only in alice's history\n"
    mine = make_repo(alice, "mine", {"deep/dir/notes.txt": text})
    theirs = make_repo(bob, "theirs", {"other.txt": b"other\n"})
    blob = gitobjects.blob_id(text)
    tree = Commit.objects.get(repo=mine, oid=Ref.objects.get(repo=mine, name="refs/heads/main").commit_oid).tree_oid
    held_by_owner = HeldObjects(mine.pk)
    assert held_by_owner.kind(blob) == BLOB and held_by_owner.raw(blob) == (BLOB, text)
    assert held_by_owner.kind(tree) == TREE
    held_by_other = HeldObjects(theirs.pk)
    assert held_by_other.kind(blob) is None and held_by_other.raw(blob) is None
    assert held_by_other.raw(tree) is None and held_by_other.blob(blob) is None
