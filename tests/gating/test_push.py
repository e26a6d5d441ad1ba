"""Where a push lands (gating.policy.CommitTarget), parsed once at the edge for every route, and
who may rewrite its history (check_push)."""

import pytest

from community.services.pulls import pull_request_open
from gating.policy import CommitTarget, Principal, PushRights, RepoAccess, check_push
from tests.support.builders import make_repo


@pytest.mark.parametrize(
    ("revision", "create_pr", "expected"),
    [
        ("main", False, ("main", "refs/heads/main", False, False)),
        ("refs/heads/main", False, ("main", "refs/heads/main", False, False)),
        ("feature/x", False, ("feature/x", "refs/heads/feature/x", False, False)),
        ("main", True, ("main", "refs/heads/main", True, True)),
        ("refs/pr/3", False, ("refs/pr/3", "refs/pr/3", False, True)),
        ("refs/pr/3", True, ("refs/pr/3", "refs/pr/3", True, True)),  # refused by check_push
        # hf_xet names no branch for a new pull request: the literal "None", the default branch
        ("None", True, (None, None, True, True)),
        ("", True, (None, None, True, True)),
        # without create_pr, "None" is a branch name like any other
        ("None", False, ("None", "refs/heads/None", False, False)),
    ],
)
def test_commit_targets_are_parsed_once_the_same_way_for_every_route(revision, create_pr, expected):
    target = CommitTarget.parse(revision, create_pr=create_pr)
    assert (target.branch, target.ref_name, target.create_pr, target.is_pull_request) == expected


@pytest.mark.django_db
def test_only_writers_may_rewrite_and_never_someone_elses_pull_request(alice, bob):
    repo = make_repo(alice, "m", {"config.json": b"{}"})
    bobs = pull_request_open(repo=repo, author=bob, title="bob's", description="", draft=False).ref_name
    alices = pull_request_open(repo=repo, author=alice, title="alice's", description="", draft=False).ref_name
    owner, contributor = RepoAccess(Principal(user=alice), repo), RepoAccess(Principal(user=bob), repo)

    def rights(access, revision: str, create_pr: bool = False) -> PushRights:
        return check_push(access, CommitTarget.parse(revision, create_pr=create_pr))

    assert rights(owner, "main") == PushRights(is_writer=True, may_rewrite=True)
    assert rights(owner, alices) == PushRights(is_writer=True, may_rewrite=True)
    assert rights(owner, bobs) == PushRights(is_writer=True, may_rewrite=False)  # bob's commits stay
    assert rights(owner, "main", create_pr=True) == PushRights(is_writer=True, may_rewrite=False)
    assert rights(contributor, bobs) == PushRights(is_writer=False, may_rewrite=False)
    tag = CommitTarget(branch=None, ref_name="refs/tags/v1", create_pr=False)
    assert check_push(owner, tag) == PushRights(is_writer=True, may_rewrite=True)
