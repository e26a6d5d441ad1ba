"""Where a push lands (gating.policy.CommitTarget), parsed once at the edge for every route."""

import pytest

from gating.policy import CommitTarget


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
