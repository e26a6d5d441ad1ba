"""The invariants checked after every injected fault (issue 17; threats-and-faults.md 4.4)."""

from __future__ import annotations

from django.core.management import call_command

from registry.models import Commit, Ref, Repo


def first_parent_history(repo: Repo, ref_name: str) -> list[Commit]:
    commits = {c.oid: c for c in Commit.objects.filter(repo=repo)}
    head = Ref.objects.get(repo=repo, name=ref_name).commit_oid
    history = []
    while head:
        commit = commits[head]  # a missing parent is a KeyError: fsck reports it too
        history.append(commit)
        head = commit.parent_oids[0] if commit.parent_oids else ""
    return history[::-1]


def check_invariants(repo: Repo, *, ref_name: str, acknowledged: list[str]) -> list[Commit]:
    """fsck with a full re-hash passes; every acknowledged commit is on the branch, in the order
    it was acknowledged, in one first-parent chain; no commit of the repo is outside every ref's
    history (nothing half-visible). Returns the branch's history, oldest first."""
    call_command("registry_fsck", "--rehash")  # raises CommandError on any problem
    history = first_parent_history(repo, ref_name)
    oids = [c.oid for c in history]
    assert set(acknowledged) <= set(oids), f"acknowledged commits lost: {set(acknowledged) - set(oids)}"
    assert [oid for oid in oids if oid in acknowledged] == acknowledged, "acknowledged commits out of order"
    reachable = set()
    for ref in Ref.objects.filter(repo=repo):
        reachable.update(c.oid for c in first_parent_history(repo, ref.name))
    stray = set(Commit.objects.filter(repo=repo).values_list("oid", flat=True)) - reachable
    assert not stray, f"commits outside every ref: {stray}"
    return history
