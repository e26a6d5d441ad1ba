"""Pull requests through the real client: create_pull_request, commits to refs/pr/N,
create_commit(create_pr=True), upload_folder(create_pr=True) with and without Xet, the diff,
conflicts, and merge_pull_request as a real commit on the base branch."""

import os
import re
from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, constants, hf_hub_download
from huggingface_hub.community import DiscussionCommit
from huggingface_hub.errors import HfHubHTTPError

from community.models import Discussion
from registry.models import Commit, Ref
from tests.support.builders import UserFactory, commit_files, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def _main_head(repo) -> str:
    return Ref.objects.get(repo=repo, name="refs/heads/main").commit_oid


@pytest.mark.s3
def test_create_pull_request_push_publish_and_merge(hub, model, alice, bob):
    api_bob, api_alice = HfApi(token=token_for(bob)), HfApi(token=token_for(alice))
    base_before = _main_head(model)

    pr = api_bob.create_pull_request("alice/model", "Better notes", description="Adds a fourth line.")
    assert pr.is_pull_request and pr.status == "draft" and pr.num == 1
    assert pr.git_reference == "refs/pr/1" and pr.target_branch == "refs/heads/main"
    assert pr.conflicting_files == [] and pr.merge_commit_oid is None and pr.diff == ""
    assert Ref.objects.get(repo=model, name="refs/pr/1").commit_oid == base_before

    info = api_bob.create_commit(
        "alice/model",
        [
            CommitOperationAdd("notes.txt", b"one\ntwo\nthree\nfour\n"),
            CommitOperationAdd("extra/new.json", b'{"new": true}\n'),
            CommitOperationDelete("config.json"),
        ],
        commit_message="Four lines",
        revision=pr.git_reference,
    )
    assert info.pr_url is None or info.pr_url.endswith("/discussions/1")
    details = api_bob.get_discussion_details("alice/model", 1)
    commit_event = details.events[-1]
    assert isinstance(commit_event, DiscussionCommit)
    assert commit_event.oid == info.oid and commit_event.summary == "Four lines" and commit_event.author == "bob"
    assert "diff --git a/notes.txt b/notes.txt\n" in details.diff
    assert "+four\n" in details.diff and " three\n" in details.diff
    assert re.search(
        r"new file mode 100644\nindex 0000000\.\.[0-9a-f]{7}\n--- /dev/null\n\+\+\+ b/extra/new.json\n", details.diff
    )
    assert "deleted file mode 100644\n" in details.diff and '-{"hidden": 8}\n' in details.diff
    assert _main_head(model) == base_before  # nothing reaches main before the merge

    with pytest.raises(HfHubHTTPError, match="draft"):
        api_alice.merge_pull_request("alice/model", 1)
    with pytest.raises(HfHubHTTPError) as refused:
        api_bob.merge_pull_request("alice/model", 1)  # the author is not a maintainer
    assert refused.value.response.status_code == 403
    assert api_bob.change_discussion_status("alice/model", 1, "open").new_status == "open"  # publish

    api_alice.merge_pull_request("alice/model", 1, comment="Thanks!")
    merged = api_alice.get_discussion_details("alice/model", 1)
    assert merged.status == "merged" and merged.merge_commit_oid == _main_head(model)
    assert merged.events[-2].content == "Thanks!" and merged.events[-1].new_status == "merged"
    merge_commit = Commit.objects.get(repo=model, oid=merged.merge_commit_oid)
    assert merge_commit.parent_oids == [base_before] and merge_commit.title == "Better notes (#1)"
    assert merge_commit.author == alice
    assert Path(hf_hub_download("alice/model", "notes.txt")).read_bytes() == b"one\ntwo\nthree\nfour\n"
    assert "config.json" not in HfApi().list_repo_files("alice/model")
    with pytest.raises(HfHubHTTPError, match="already merged"):
        api_alice.merge_pull_request("alice/model", 1)
    with pytest.raises(HfHubHTTPError, match="takes no more commits"):
        api_bob.create_commit(
            "alice/model", [CommitOperationAdd("late.txt", b"x")], commit_message="late", revision="refs/pr/1"
        )


def test_create_commit_with_create_pr_by_a_contributor(hub, model, alice, bob):
    api_bob = HfApi(token=token_for(bob))
    info = api_bob.create_commit(
        "alice/model", [CommitOperationAdd("fix.txt", b"a fix\n")], commit_message="Fix typo", create_pr=True
    )
    assert re.fullmatch(rf"{re.escape(hub)}/alice/model/discussions/1", info.pr_url)
    assert info.pr_num == 1 and info.pr_revision == "refs/pr/1"
    discussion = Discussion.objects.get(repo=model, num=1)
    assert discussion.status == "open" and discussion.author == bob and discussion.title == "Fix typo"
    assert Ref.objects.get(repo=model, name="refs/pr/1").commit_oid == info.oid
    assert "fix.txt" not in HfApi().list_repo_files("alice/model")
    assert "fix.txt" in HfApi().list_repo_files("alice/model", revision="refs/pr/1")

    # A contributor may not push to main, nor to someone else's pull request.
    with pytest.raises(HfHubHTTPError) as refused:
        api_bob.create_commit("alice/model", [CommitOperationAdd("x.txt", b"x")], commit_message="direct")
    assert refused.value.response.status_code == 403
    carol_api = HfApi(token=token_for(UserFactory(username="carol")))
    with pytest.raises(HfHubHTTPError) as refused:
        carol_api.create_commit(
            "alice/model", [CommitOperationAdd("y.txt", b"y")], commit_message="hijack", revision="refs/pr/1"
        )
    assert refused.value.response.status_code == 403

    HfApi(token=token_for(alice)).merge_pull_request("alice/model", 1)
    assert "fix.txt" in HfApi().list_repo_files("alice/model")


def test_conflicting_pull_request_is_refused_and_reported(hub, model, alice, bob):
    api_bob, api_alice = HfApi(token=token_for(bob)), HfApi(token=token_for(alice))
    info = api_bob.create_commit(
        "alice/model",
        [CommitOperationAdd("notes.txt", b"theirs\n"), CommitOperationAdd("other.txt", b"fine\n")],
        commit_message="Change notes",
        create_pr=True,
    )
    commit_files(model, {"notes.txt": b"ours\n"}, author=alice, summary="Change notes on main")
    head = _main_head(model)
    details = api_alice.get_discussion_details("alice/model", info.pr_num)
    assert details.conflicting_files == ["notes.txt"]
    with pytest.raises(HfHubHTTPError) as refused:
        api_alice.merge_pull_request("alice/model", info.pr_num)
    assert refused.value.response.status_code == 409
    assert refused.value.response.json()["filesWithConflicts"] == ["notes.txt"]
    assert _main_head(model) == head
    assert Discussion.objects.get(repo=model, num=info.pr_num).status == "open"

    # The same change on both sides is not a conflict.
    commit_files(model, {"notes.txt": b"theirs\n"}, author=alice, summary="Agree with the PR")
    assert api_alice.get_discussion_details("alice/model", info.pr_num).conflicting_files == []
    api_alice.merge_pull_request("alice/model", info.pr_num)
    assert "other.txt" in HfApi().list_repo_files("alice/model")


def test_upload_folder_create_pr_through_lfs(hub, model, alice, tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    folder = tmp_path / "up"
    folder.mkdir()
    weights = os.urandom(2 * 1024 * 1024 + 3)  # above the inline cap: goes through the LFS batch API
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "config.json").write_bytes(b'{"hidden": 16}\n')
    api = HfApi(token=token_for(alice))
    info = api.upload_folder(folder_path=folder, repo_id="alice/model", create_pr=True, commit_message="New weights")
    assert info.pr_url == f"{hub}/alice/model/discussions/1" and info.pr_revision == "refs/pr/1"
    details = api.get_discussion_details("alice/model", 1)
    assert details.status == "open" and details.events[-1].oid == info.oid
    assert "diff --git a/model.safetensors b/model.safetensors\nnew file mode 100644\nindex 0000000." in details.diff
    assert "+oid sha256:" in details.diff and f"+size {len(weights)}\n" in details.diff  # the LFS pointer
    api.merge_pull_request("alice/model", 1)
    assert Path(hf_hub_download("alice/model", "model.safetensors")).read_bytes() == weights


def test_upload_folder_create_pr_with_default_xet_client(hub, model, alice, tmp_path):
    assert constants.HF_HUB_DISABLE_XET is False
    folder = tmp_path / "small"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_bytes(b"a\n")
    (folder / "tiny.bin").write_bytes(bytes(range(256)))
    api = HfApi(token=token_for(alice))
    info = api.upload_folder(folder_path=folder, repo_id="alice/model", create_pr=True, commit_message="Small files")
    assert info.pr_url == f"{hub}/alice/model/discussions/1"
    details = api.get_discussion_details("alice/model", 1)
    # The pipelined uploader opens the pull request explicitly (a draft) and pushes to its ref.
    assert details.status == "draft" and details.events[-1].oid == info.oid
    assert "+++ b/sub/a.txt\n" in details.diff
    # tiny.bin is an LFS file by the Hub's rules (*.bin, binary), uploaded through Xet: its diff is
    # its pointer's, as git shows it.
    assert "+++ b/tiny.bin\n" in details.diff and "+size 256\n" in details.diff
    api.change_discussion_status("alice/model", 1, "open")
    api.merge_pull_request("alice/model", 1)
    assert Path(hf_hub_download("alice/model", "sub/a.txt")).read_bytes() == b"a\n"
