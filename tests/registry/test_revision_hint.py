"""The download path fetches the revision's ref with the repo (one query); it must pick exactly
the ref `split_revision_path` picks on its own: longest prefix first, a branch before a tag."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gating.policy import ANONYMOUS, Action, resolve_repo
from registry import services
from registry.models import Ref
from registry.selectors import revision_candidates, split_revision_path
from tests.support.builders import commit_files, make_repo

pytestmark = pytest.mark.django_db


@pytest.fixture
def repo(alice):
    repo = make_repo(alice, "revs", {"a/b.txt": b"main"})
    services.branch_create(repo=repo, branch="feature/x")
    commit_files(repo, {"a/b.txt": b"feature"}, author=alice, branch="feature/x")
    services.branch_create(repo=repo, branch="dup")
    commit_files(repo, {"a/b.txt": b"dup branch"}, author=alice, branch="dup")
    services.tag_create(repo=repo, tag="dup", revision="main")
    services.tag_create(repo=repo, tag="feature", revision="main")
    Ref.objects.create(
        repo=repo, name="refs/pr/1", kind="pr", commit_oid=Ref.objects.get(name="refs/heads/dup").commit_oid
    )
    return repo


@pytest.mark.parametrize(
    "rest",
    [
        "main/a/b.txt",
        "feature/x/a/b.txt",  # the longer ref wins over the tag "feature"
        "feature/a/b.txt",
        "dup/a/b.txt",  # the branch wins over the tag
        "refs/pr/1/a/b.txt",
        "refs/heads/main/a/b.txt",
        "refs/tags/dup/a/b.txt",
        "nope/a/b.txt",
    ],
)
def test_hinted_and_plain_resolution_agree(repo, rest):
    plain_repo = resolve_repo(ANONYMOUS, "model", repo.repo_id, Action.DOWNLOAD)
    hinted_repo = resolve_repo(
        ANONYMOUS,
        "model",
        repo.repo_id,
        Action.DOWNLOAD,
        revision_candidates=revision_candidates(rest, path_required=True),
    )
    outcomes = []
    for candidate in (plain_repo, hinted_repo):
        try:
            resolved, path = split_revision_path(candidate.repo, rest, path_required=True, hint=candidate.revision_hint)
            outcomes.append((resolved.revision, resolved.commit_oid, resolved.tree_oid, path))
        except Exception as exc:  # noqa: BLE001 - both must fail the same way
            outcomes.append((type(exc), str(exc)))
    assert outcomes[0] == outcomes[1]


def test_the_hinted_lookup_is_one_query(repo):
    rest = "feature/x/a/b.txt"
    candidates = revision_candidates(rest, path_required=True)
    warm = resolve_repo(ANONYMOUS, "model", repo.repo_id, Action.DOWNLOAD, revision_candidates=candidates)
    split_revision_path(
        warm.repo, rest, path_required=True, hint=warm.revision_hint
    )  # commit -> tree is cached per process (immutable)
    with CaptureQueriesContext(connection) as queries:
        hinted = resolve_repo(ANONYMOUS, "model", repo.repo_id, Action.DOWNLOAD, revision_candidates=candidates)
        resolved, path = split_revision_path(hinted.repo, rest, path_required=True, hint=hinted.revision_hint)
    assert (resolved.revision, path) == ("feature/x", "a/b.txt")
    assert len(queries) == 1


@pytest.mark.django_db(transaction=True)
def test_head_resolve_of_a_public_file_is_one_query_whatever_the_card(client, alice):
    """The HEAD before every download: one query, and the card's metadata (large for models with
    eval results) is not even read. Outside a test transaction, as in production: the proof that
    the content belongs to the repo is cached only once it is committed."""
    rows = "\n".join(f"  - name: metric-{i}\n    value: {i}" for i in range(2000))
    card = f"---\nlicense: mit\nmodel-index:\n{rows}\n---\n# Card\n".encode()
    make_repo(alice, "big-card", {"README.md": card, "model.safetensors": b"\0" * 64})
    url = "/alice/big-card/resolve/main/model.safetensors"
    assert client.head(url).status_code == 200  # warm the per-process caches (immutable trees)
    with CaptureQueriesContext(connection) as queries:
        response = client.head(url)
    assert response.status_code == 200 and response["Content-Length"] == "64"
    assert len(queries) == 1
    assert "card_data" not in queries[0]["sql"]


@pytest.mark.parametrize("candidates", [None, ["main"]])
def test_the_lookups_facts_live_on_the_access_not_on_the_repo(repo, candidates):
    access = resolve_repo(ANONYMOUS, "model", repo.repo_id, Action.DOWNLOAD, revision_candidates=candidates)
    assert access.has_release_plan is False and access.acknowledgment_opt_in is False
    assert not {"hint_ref", "has_release_plan", "acknowledgment_opt_in"} & set(vars(access.repo))
