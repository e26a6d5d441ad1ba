"""The authorization matrix for git: private, gated, withheld and license-locked repos against
anonymous callers, strangers, granted users and owners (read tokens), with git's own output.

A clone is served only to a caller who could /resolve every file it carries; the others read
the reason the API gives. Private repos look exactly like missing ones."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from gating import release
from gating.models import AccessRequest
from licenses.selectors import license_at
from licenses.services import acknowledgment_record
from registry import services
from registry.models import Repo
from registry.selectors import resolve_revision
from tests.licenses.conftest import LICENSE_V1, RAIL_CARD
from tests.support.builders import UserFactory, commit_files, make_repo, token_for

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = b'{"marker": "SECRET-CONTENT"}\n'
WEIGHTS = b"\0" * 128  # binary: stored through LFS
CALLERS = ["anonymous", "stranger", "granted", "owner"]
OK = "ok"
# What git prints for each refusal (GIT_TERMINAL_PROMPT=0: a 401 ends at the credential prompt).
ASKS_CREDENTIALS = "could not read Username"
MISSING = "not found"
GATED = "ask-access"
WITHHELD = "withheld in the current release stage"
LICENSE = "requires accepting its license"

EXPECTED = {
    "public": {"anonymous": OK, "stranger": OK, "granted": OK, "owner": OK},
    "private": {"anonymous": ASKS_CREDENTIALS, "stranger": MISSING, "granted": MISSING, "owner": OK},
    "gated": {"anonymous": ASKS_CREDENTIALS, "stranger": GATED, "granted": OK, "owner": OK},
    "withheld": {"anonymous": ASKS_CREDENTIALS, "stranger": GATED, "granted": WITHHELD, "owner": OK},
    "license": {"anonymous": ASKS_CREDENTIALS, "stranger": LICENSE, "granted": OK, "owner": OK},
}


def _world(mode: str):
    owner, stranger, granted = (UserFactory(username=name) for name in ("olga", "sam", "abe"))
    files = {"config.json": SECRET, "model.safetensors": WEIGHTS}
    if mode == "license":
        files |= {"README.md": RAIL_CARD, "LICENSE": LICENSE_V1}
    repo = make_repo(owner, "m", files, private=mode == "private")
    if mode == "gated":
        repo = services.repo_settings_update(repo=repo, gated="manual", actor=owner)
    if mode == "withheld":
        stage = release.StageSpec(mode="gated_manual", withheld_patterns=("*.safetensors",))
        release.release_plan_set(repo=repo, actor=owner, stages=[stage])
    if mode in ("gated", "withheld"):
        AccessRequest.objects.create(repo=repo, user=granted, status="accepted")
    if mode == "license":
        version = license_at(repo, resolve_revision(repo, "main")).version
        acknowledgment_record(user=granted, repo=repo, version=version)
    tokens = {"stranger": token_for(stranger, "read"), "granted": token_for(granted, "read")}
    tokens["owner"] = token_for(owner, "read")
    return repo, tokens


@pytest.mark.parametrize("mode", list(EXPECTED))
def test_clone_matrix(git, tmp_path, mode):
    repo, tokens = _world(mode)
    for caller in CALLERS:
        downloads = _downloads(repo)
        target = tmp_path / f"{mode}-{caller}"
        result = git.run("clone", git.url("olga/m", tokens.get(caller)), str(target), check=False)
        expected = EXPECTED[mode][caller]
        label = f"{mode}/{caller}: {result.stderr}"
        if expected == OK:
            assert result.returncode == 0, label
            assert (target / "config.json").read_bytes() == SECRET, label
            continue
        assert result.returncode != 0, label
        assert expected in result.stderr, label
        assert not (target / "config.json").exists(), label
        assert "SECRET-CONTENT" not in result.stderr, label
        assert _downloads(repo) == downloads, label  # a refused clone records nothing


def _downloads(repo) -> int:
    return Repo.objects.values_list("downloads", flat=True).get(pk=repo.pk)


def _raw(url: str, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback test server
    try:
        with urllib.request.urlopen(request) as response:  # noqa: S310 - loopback test server
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _comparable(answer):
    status, headers, body = answer
    return status, headers.get("WWW-Authenticate"), headers.get("Content-Type"), headers.get("X-Error-Code"), body


def test_private_answers_exactly_as_missing(git, alice, bob):
    make_repo(alice, "hidden", {"config.json": SECRET}, private=True)
    bob_token = token_for(bob, "read")
    for suffix in ("/info/refs?service=git-upload-pack", ".git/info/refs?service=git-upload-pack"):
        private = _raw(f"{git.hub}/alice/hidden{suffix}")
        missing = _raw(f"{git.hub}/alice/nothing-here{suffix}")
        assert private[0] == 401 and private[1]["WWW-Authenticate"].startswith("Basic")
        assert _comparable(private) == _comparable(missing)
        assert _comparable(_raw(f"{git.hub}/alice/hidden{suffix}", bob_token)) == _comparable(
            _raw(f"{git.hub}/alice/nothing-here{suffix}", bob_token)
        )
    assert _raw(f"{git.hub}/alice/hidden/info/refs?service=git-upload-pack", token_for(alice, "read"))[0] == 200
    # git's own view of it: the same words for both.
    hidden = git.run("ls-remote", git.url("alice/hidden", bob_token), check=False).stderr
    missing = git.run("ls-remote", git.url("alice/nothing-here", bob_token), check=False).stderr
    assert hidden.replace("hidden", "X") == missing.replace("nothing-here", "X")


def test_bad_token_and_push_refusals(git, alice, bob, tmp_path):
    make_repo(alice, "pub", {"config.json": SECRET})
    make_repo(alice, "hidden", {"config.json": SECRET}, private=True)
    # git sends the URL's credentials only after a 401: a public repo answers without them.
    bad = git.run("ls-remote", git.url("alice/hidden", "gth_not-a-real-token"), check=False)
    assert bad.returncode != 0 and "Authentication failed" in bad.stderr
    target = tmp_path / "pub"
    git.run("clone", git.url("alice/pub", token_for(alice, "read")), str(target))
    (target / "new.txt").write_text("x")
    git.run("add", "new.txt", cwd=target)
    git.run("commit", "-m", "new", cwd=target)
    read_only = git.run("push", "origin", "main", cwd=target, check=False)
    assert read_only.returncode != 0 and "read-only" in read_only.stderr
    anonymous = git.run("push", git.url("alice/pub"), "main", cwd=target, check=False)
    assert anonymous.returncode != 0 and ASKS_CREDENTIALS in anonymous.stderr


def test_withheld_history_refuses_a_full_clone_but_not_a_shallow_one(git, tmp_path):
    repo, tokens = _world("withheld")
    owner = repo.owner_user
    commit_files(repo, {"model.safetensors": None}, author=owner, summary="drop the weights")
    refused = git.run("clone", git.url("olga/m", tokens["granted"]), str(tmp_path / "full"), check=False)
    assert refused.returncode != 0 and WITHHELD in refused.stderr  # the history still carries them
    git.run("clone", "--depth", "1", git.url("olga/m", tokens["granted"]), str(tmp_path / "shallow"))
    assert (tmp_path / "shallow" / "config.json").read_bytes() == SECRET
    assert not (tmp_path / "shallow" / "model.safetensors").exists()
    # A pull in the shallow clone walks the history down to the client's boundary, no further.
    commit_files(repo, {"notes.txt": b"n\n"}, author=owner, summary="more")
    git.run("pull", "-q", "--ff-only", cwd=tmp_path / "shallow")
    assert (tmp_path / "shallow" / "notes.txt").read_bytes() == b"n\n"
    deepen = git.run("fetch", "--depth", "3", cwd=tmp_path / "shallow", check=False)
    assert deepen.returncode != 0 and WITHHELD in deepen.stderr  # three commits reach the weights
