"""Upload modes as the Hub decides them: an LFS rule of the repo's .gitattributes at the revision
(the Hub's default rules when it has none), binary content judged from the preupload `sample`, or
text over the size threshold goes to LFS (and so through Xet with a default client); small text
goes inline. preupload's `shouldIgnore` honours the repo's committed .gitignore."""

import base64

import pytest
from huggingface_hub import CommitOperationAdd, HfApi, HfFileSystem
from huggingface_hub.hf_api import RepoFile

from registry.git import lfsrules
from tests.support.builders import commit_files, make_repo, token_for
from tests.support.commit_api import inline_file, post_commit

DEFAULT = lfsrules.DEFAULT_GITATTRIBUTES


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("lfs.bin", True),
        ("deep/dir/model.safetensors", True),
        ("saved_model/variables", True),  # `saved_model/**/*`: ** matches no directory too
        ("runs/events.out.tfevents.1", True),
        ("data.tar.gz", True),
        ("README.md", False),
        ("config.json", False),
        ("binfile", False),
    ],
)
def test_default_rules_match_as_git_matches(path, expected):
    assert lfsrules.matches_lfs_rule(path, DEFAULT) is expected


def test_the_last_rule_about_filter_wins():
    attributes = DEFAULT + "small.bin -filter -diff -merge text\n/top.txt filter=lfs\n"
    assert lfsrules.matches_lfs_rule("other.bin", attributes)
    assert not lfsrules.matches_lfs_rule("small.bin", attributes)
    assert lfsrules.matches_lfs_rule("top.txt", attributes)
    assert not lfsrules.matches_lfs_rule("sub/top.txt", attributes)  # anchored to the root
    assert not lfsrules.matches_lfs_rule("x.bin", "")


def test_literal_lines_of_single_tracked_files_are_looked_up():
    attributes = "".join(f"data/part-{i}.parquet filter=lfs diff=lfs merge=lfs -text\n" for i in range(5000))
    attributes += "notes.md filter=lfs\n*.md -filter\n"
    assert lfsrules.matches_lfs_rule("data/part-4999.parquet", attributes)
    assert not lfsrules.matches_lfs_rule("other/data/part-1.parquet", attributes)  # anchored: it has a '/'
    assert not lfsrules.matches_lfs_rule("notes.md", attributes)  # a later glob line unsets it


def test_binary_is_judged_from_the_sample():
    assert lfsrules.looks_binary(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert lfsrules.looks_binary(bytes(range(1, 32)) * 4)
    assert not lfsrules.looks_binary("naïve text, ünïcode".encode())
    assert not lfsrules.looks_binary(("é" * 256).encode()[:511])  # a character cut at the boundary
    assert not lfsrules.looks_binary("latin-1 café".encode("latin-1"))
    assert not lfsrules.looks_binary(b"")


def test_gitignore_negation_and_directories():
    text = "*.log\n!keep.log\nbuild/\n# comment\n"
    assert lfsrules.is_ignored("debug.log", text)
    assert lfsrules.is_ignored("sub/debug.log", text)
    assert not lfsrules.is_ignored("keep.log", text)
    assert lfsrules.is_ignored("build/out.txt", text)
    assert not lfsrules.is_ignored("builder.txt", text)
    assert not lfsrules.is_ignored("debug.log", "")


def test_globs_are_matched_in_linear_time_and_texts_are_bounded():
    """Found by an outsider attack: Python's backtracking `re` took 19 s of CPU for `*a*a*a*a*b`
    against a path of 200 `a`s, and the request's `gitIgnore` was cached whole (9 MB a key)."""
    slow = "*a*a*a*a*b"
    attributes = f"{slow} filter=lfs diff=lfs merge=lfs -text\n"
    [(_, regex, _)] = lfsrules._lfs_rules(attributes).globs
    assert type(regex).__module__ == "re2"  # RE2: no backtracking
    path = "a" * 1000
    assert not lfsrules.matches_lfs_rule(path, attributes) and lfsrules.matches_lfs_rule(path + "b", attributes)
    assert not lfsrules.is_ignored(path, slow) and lfsrules.is_ignored(path + "b", slow)
    huge = "\n".join(f"pattern-{i}-{'x' * 50}" for i in range(200_000))
    assert len(lfsrules.bounded_gitignore(huge)) <= lfsrules.MAX_IGNORE_BYTES
    assert len(lfsrules.bounded_gitignore(huge).splitlines()) <= lfsrules.MAX_IGNORE_RULES
    assert lfsrules.is_ignored("pattern-3-" + "x" * 50, huge)


def _preupload(client, token, repo_id, files, **extra):
    body = {
        "files": [
            {"path": path, "sample": base64.b64encode(data[:512]).decode(), "size": size or len(data)}
            for path, data, size in files
        ],
        **extra,
    }
    response = client.post(
        f"/api/models/{repo_id}/preupload/main",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 200, response.content
    return {item["path"]: item for item in response.json()["files"]}


@pytest.mark.django_db
def test_preupload_modes_follow_the_repo_rules(client, alice, settings):
    make_repo(alice, "m")
    token = token_for(alice)
    modes = _preupload(
        client,
        token,
        "alice/m",
        [
            ("lfs.bin", b"content", None),  # 7 bytes, matched by the default .gitattributes
            ("image.png", b"0123456789", None),
            ("weights.dat", b"\x00\x01\x02binary", None),  # no rule, binary sample
            ("notes.txt", b"plain text\n", None),
            ("big.txt", b"text " * 100, settings.GATEHOUSE_REGULAR_UPLOAD_MAX_BYTES + 1),
            ("empty.bin", b"", 0),
        ],
    )
    assert {path: item["uploadMode"] for path, item in modes.items()} == {
        "lfs.bin": "lfs",
        "image.png": "regular",  # *.png is not among the default rules; its content here is text
        "weights.dat": "lfs",
        "notes.txt": "regular",
        "big.txt": "lfs",
        "empty.bin": "regular",
    }
    assert not any(item["shouldIgnore"] for item in modes.values())


@pytest.mark.django_db
def test_preupload_reads_gitattributes_and_gitignore_at_the_revision(client, alice):
    repo = make_repo(alice, "m")
    commit_files(
        repo,
        {".gitattributes": b"*.dat filter=lfs diff=lfs merge=lfs -text\n", ".gitignore": b"*.log\n!keep.log\n"},
        author=alice,
    )
    token = token_for(alice)
    files = [("a.dat", b"text", None), ("a.bin", b"text", None), ("x.log", b"log", None), ("keep.log", b"l", None)]
    modes = _preupload(client, token, "alice/m", files)
    assert modes["a.dat"]["uploadMode"] == "lfs"
    assert modes["a.bin"]["uploadMode"] == "regular"  # the repo's rules replace the defaults
    assert modes["x.log"]["shouldIgnore"] and not modes["keep.log"]["shouldIgnore"]
    # The .gitignore the commit brings (sent by the client) is the one that applies.
    modes = _preupload(client, token, "alice/m", files, gitIgnore="*.dat\n")
    assert modes["a.dat"]["shouldIgnore"] and not modes["x.log"]["shouldIgnore"]


@pytest.mark.django_db
def test_a_repo_without_gitattributes_gets_the_default_rules(client, alice):
    repo = make_repo(alice, "m")
    commit_files(repo, {".gitattributes": None}, author=alice)
    modes = _preupload(client, token_for(alice), "alice/m", [("model.safetensors", b"{}", None)])
    assert modes["model.safetensors"]["uploadMode"] == "lfs"


@pytest.mark.django_db
def test_an_inline_file_at_an_lfs_path_is_stored_as_lfs(client, alice):
    """An older or hand-written client may send a small *.bin inline: accepted, and stored as the
    Hub's rules say (an LFS file), not as a regular blob."""
    make_repo(alice, "m")
    token = token_for(alice)
    response = post_commit(client, token, "alice/m", [inline_file("w.bin", b"weights"), inline_file("a.txt", b"hi")])
    assert response.status_code == 200, response.content
    tree = client.get("/api/models/alice/m/tree/main", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    entries = {item["path"]: item for item in tree}
    assert entries["w.bin"]["lfs"]["size"] == 7
    assert "lfs" not in entries["a.txt"]
    assert client.get("/alice/m/resolve/main/w.bin", HTTP_AUTHORIZATION=f"Bearer {token}").getvalue() == b"weights"


@pytest.mark.django_db(transaction=True)
def test_the_default_client_sends_lfs_rule_files_through_xet(hub, alice, tmp_path):
    """The issue's case: a 7-byte lfs.bin and a small binary file get `lfs` and `xetHash`
    everywhere the client reads file metadata; a .gitignore committed earlier keeps debug.log out."""
    api = HfApi(token=token_for(alice))
    api.create_repo("alice/small")
    api.upload_file(path_or_fileobj=b"*.log\n", path_in_repo=".gitignore", repo_id="alice/small")
    files = {"lfs.bin": b"content", "image.dat": b"\x00PNG-ish", "notes.txt": b"plain text\n", "debug.log": b"x"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    api.upload_folder(folder_path=tmp_path, repo_id="alice/small")

    assert "debug.log" not in api.list_repo_files("alice/small")
    tree = {item.path: item for item in api.list_repo_tree("alice/small") if isinstance(item, RepoFile)}
    infos = {item.path: item for item in api.get_paths_info("alice/small", ["lfs.bin", "image.dat", "notes.txt"])}
    siblings = {s.rfilename: s for s in api.model_info("alice/small", files_metadata=True).siblings}
    fs = HfFileSystem(token=token_for(alice))
    for name in ("lfs.bin", "image.dat"):
        assert tree[name].lfs is not None and tree[name].lfs.size == len(files[name])
        assert tree[name].xet_hash and infos[name].xet_hash == tree[name].xet_hash
        assert siblings[name].lfs is not None
        info = fs.info(f"alice/small/{name}")
        assert info["lfs"] is not None and info["xet_hash"] == tree[name].xet_hash
        assert fs.cat(f"alice/small/{name}") == files[name]
    assert tree["notes.txt"].lfs is None and tree["notes.txt"].xet_hash is None
    api.create_commit("alice/small", operations=[CommitOperationAdd("x.bin", b"more")], commit_message="x")
    assert api.get_paths_info("alice/small", ["x.bin"])[0].xet_hash
