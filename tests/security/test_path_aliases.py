"""Paths that name `.git` on NTFS or HFS+ (git's `is_ntfs_dotgit`/`is_hfs_dotgit` rules), and
Windows device names (Gatehouse policy: git refuses them only on Windows), are refused at commit.

The attack: a checkout on Windows or macOS of a repo holding `.git::$INDEX_ALLOCATION/config` or
`.g\u200cit/hooks/post-checkout` writes into the clone's own `.git` folder (CVE-2014-9390 and its
NTFS stream variants). A file named `aux.txt` cannot be created on Windows at all.
"""

import pytest
from django.test import Client

from core.errors import BadRequest
from registry.git.paths import validate_new_path, validate_path
from registry.selectors import resolve_revision
from tests.support.builders import make_repo, token_for
from tests.support.commit_api import inline_file, post_commit

pytestmark = pytest.mark.django_db

DOTGIT_ALIASES = [
    ".git::$INDEX_ALLOCATION/config",
    ".git:$DATA",
    ".GIT:stream/x",
    ".git . /config",  # trailing dots and spaces, then a folder
    "GIT~1/config",
    "git~1. /hooks",
    "sub/Git~1:$INDEX_ALLOCATION",
    ".g\u200cit/hooks/post-checkout",  # HFS+ ignores zero-width non-joiner
    "a/\u200d.GIT\ufeff/config",
    ".\u206agit/x",
]
DEVICE_NAMES = ["CON", "nul/x", "aux.txt", "Com1", "lpt9.tar.gz", "prn ", "NUL.", "x/con .json", "COM3:x"]
ALLOWED = [".gitattributes", ".github/workflows/ci.yml", "git~2", ".gitx", "console.txt", "com10", "lpt", "auxiliary"]


def _commit(token: str, repo_id: str, path: str):
    return post_commit(Client(), token, repo_id, [inline_file(path, b"x")], summary="add")


@pytest.mark.parametrize("path", DOTGIT_ALIASES + DEVICE_NAMES)
def test_commit_api_refuses_dotgit_aliases_and_device_names(alice, path):
    repo = make_repo(alice, "plain")
    before = resolve_revision(repo, "main").commit_oid
    response = _commit(token_for(alice), "alice/plain", path)
    assert response.status_code == 400, path
    assert "Invalid path" in response["X-Error-Message"]
    assert resolve_revision(repo, "main").commit_oid == before


@pytest.mark.parametrize("path", ["x?y.txt", "a*b", "x<y>", "x|y", 'say"hi".md', "d/c:e.txt"])
def test_characters_windows_refuses_are_refused_in_new_files(path):
    with pytest.raises(BadRequest, match="cannot be in a file name on Windows"):
        validate_new_path(path)
    assert validate_path(path) == path  # such files already stored stay readable and deletable


def test_device_name_refusal_says_why(alice):
    make_repo(alice, "plain")
    message = _commit(token_for(alice), "alice/plain", "data/aux.txt")["X-Error-Message"]
    assert "Windows device name" in message and "Windows client" in message


@pytest.mark.parametrize("path", DOTGIT_ALIASES)
def test_dotgit_aliases_are_invalid_everywhere(path):
    with pytest.raises(BadRequest):
        validate_path(path)


@pytest.mark.parametrize("path", [p for p in DEVICE_NAMES if not p.endswith((".", " "))])
def test_device_names_stay_readable_and_deletable(path):
    # A repo may hold such a file from before the rule: reading and deleting it must still work.
    assert validate_path(path) == path
    with pytest.raises(BadRequest):
        validate_new_path(path)


@pytest.mark.parametrize("path", ALLOWED)
def test_ordinary_names_near_the_rules_are_accepted(path):
    assert validate_new_path(path) == path


@pytest.mark.parametrize("path", [".git::$INDEX_ALLOCATION/config", "weights/aux.safetensors"])
def test_real_client_upload_is_refused_before_any_bytes_travel(hub, alice, path):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    repo = make_repo(alice, "plain")
    before = resolve_revision(repo, "main").commit_oid
    with pytest.raises(HfHubHTTPError) as refused:
        HfApi(token=token_for(alice)).upload_file(
            path_or_fileobj=b"\0" * 2048, path_in_repo=path, repo_id="alice/plain"
        )
    assert refused.value.response.status_code == 400
    assert "Invalid path" in str(refused.value)
    assert str(refused.value.response.url).endswith("/preupload/main")  # refused at the first request
    assert resolve_revision(repo, "main").commit_oid == before
