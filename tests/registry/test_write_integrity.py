"""Atomicity, concurrency, interrupted uploads and hostile input on the write path."""

import base64
import hashlib
import http.client
import json
import os
import pickle
import threading
import time
from urllib.parse import urlsplit

import pytest
from huggingface_hub import CommitOperationAdd, HfApi, constants
from huggingface_hub.errors import HfHubHTTPError

from registry.models import Commit, Ref, StoredObject
from registry.storage import get_storage
from tests.support.builders import make_repo, token_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def lfs_protocol(monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)


def _head(repo) -> str:
    return Ref.objects.get(repo=repo, name="refs/heads/main").commit_oid


def _raw(hub, method, path, *, body=b"", headers=None):
    parts = urlsplit(hub)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), data


def _ndjson(*lines) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def test_stale_parent_commit_is_refused_with_412(hub, alice):
    repo = make_repo(alice, "m")
    api = HfApi(token=token_for(alice))
    parent = _head(repo)
    api.upload_file(path_or_fileobj=b"1", path_in_repo="a.txt", repo_id="alice/m", parent_commit=parent)
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.upload_file(path_or_fileobj=b"2", path_in_repo="b.txt", repo_id="alice/m", parent_commit=parent)
    assert excinfo.value.response.status_code == 412
    assert "b.txt" not in api.list_repo_files("alice/m")


def test_parent_commit_is_a_full_id_or_the_clients_short_form(hub, alice):
    """The client allows 5 to 40 hex digits (a shorthand like sha[:7]), as the Hub does; anything
    shorter or not hex is a 400, and a short form of an old head is stale (412)."""
    make_repo(alice, "m", {"a.txt": b"1"})
    api = HfApi(token=token_for(alice))
    head = api.model_info("alice/m").sha
    # The same rule when the commit opens a pull request forked at `parentCommit` (create_pr=1).
    for target in ("main", "main?create_pr=1"):
        for malformed in ("z" * 40, "zzzzz", head + "\n", "", head[:4], head + "0"):
            header = {"summary": "x", "parentCommit": malformed}
            status, headers, _ = _raw(
                hub,
                "POST",
                f"/api/models/alice/m/commit/{target}",
                body=_ndjson({"key": "header", "value": header}),
                headers={"Authorization": f"Bearer {token_for(alice)}"},
            )
            assert status == 400 and "5 to 40 hexadecimal digits" in headers["X-Error-Message"], (target, malformed)
    assert "b.txt" not in api.list_repo_files("alice/m")
    assert not Ref.objects.filter(name__startswith="refs/pr/").exists()
    api.upload_file(path_or_fileobj=b"2", path_in_repo="b.txt", repo_id="alice/m", parent_commit=head[:7])
    with pytest.raises(HfHubHTTPError) as excinfo:  # head moved: the old short form is stale
        api.upload_file(path_or_fileobj=b"3", path_in_repo="c.txt", repo_id="alice/m", parent_commit=head[:7])
    assert excinfo.value.response.status_code == 412
    head = api.model_info("alice/m").sha
    api.upload_file(path_or_fileobj=b"3", path_in_repo="c.txt", repo_id="alice/m", parent_commit=head.upper())


def test_eight_concurrent_committers_lose_nothing_and_history_is_linear(hub, alice):
    repo = make_repo(alice, "busy")
    token = token_for(alice)
    acknowledged: list[str] = []
    errors: list[Exception] = []
    lock = threading.Lock()

    def committer(worker: int):
        api = HfApi(token=token)
        for round_ in range(4):
            try:
                info = api.create_commit(
                    "alice/busy",
                    operations=[CommitOperationAdd(f"w{worker}/r{round_}.txt", f"{worker}-{round_}".encode())],
                    commit_message=f"worker {worker} round {round_}",
                )
                with lock:
                    acknowledged.append(info.oid)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=committer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(acknowledged) == 32
    # one linear chain from the head back to the initial commit, containing every acknowledged commit
    parents = dict(Commit.objects.filter(repo=repo).values_list("oid", "parent_oids"))
    chain, current = [], _head(repo)
    while current:
        chain.append(current)
        current = parents[current][0] if parents[current] else None
    assert set(acknowledged) <= set(chain) and len(chain) == 33
    files = set(HfApi().list_repo_files("alice/busy"))
    assert {f"w{w}/r{r}.txt" for w in range(8) for r in range(4)} <= files


def _batch(hub, token, oid, size, repo="alice/m"):
    status, _, body = _raw(
        hub,
        "POST",
        f"/{repo}.git/info/lfs/objects/batch",
        body=json.dumps({"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": size}]}),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/vnd.git-lfs+json",
            "Accept": "application/vnd.git-lfs+json",
        },
    )
    return status, json.loads(body)


def test_interrupted_upload_leaves_nothing_visible(hub, alice):
    make_repo(alice, "m")
    token = token_for(alice)
    data = os.urandom(4 * 1024 * 1024)
    oid = hashlib.sha256(data).hexdigest()
    tmp_dir = get_storage().tmp_dir
    before = set(tmp_dir.iterdir())  # other tests' multipart folders, if any
    _, answer = _batch(hub, token, oid, len(data))
    href = urlsplit(answer["objects"][0]["actions"]["upload"]["href"])
    parts = urlsplit(hub)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.putrequest("PUT", f"{href.path}?{href.query}")
    conn.putheader("Content-Length", str(len(data)))
    conn.endheaders()
    conn.send(data[: len(data) // 2])
    conn.close()  # the client dies mid-stream
    deadline = time.time() + 10
    while time.time() < deadline and set(tmp_dir.iterdir()) - before:
        time.sleep(0.1)
    assert not set(tmp_dir.iterdir()) - before, "the partial upload must be cleaned up"
    assert not StoredObject.objects.filter(sha256=oid).exists()
    assert not get_storage().exists(oid)
    # and a commit that points at it is refused
    status, headers, _ = _raw(
        hub,
        "POST",
        "/api/models/alice/m/commit/main",
        body=_ndjson(
            {"key": "header", "value": {"summary": "x"}},
            {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": oid, "size": len(data)}},
        ),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )
    assert status == 400 and "never uploaded" in headers["X-Error-Message"]


def test_upload_url_checks(hub, alice, bob, time_machine):
    make_repo(alice, "m")
    token = token_for(alice)
    data = b"payload" * 1000
    oid = hashlib.sha256(data).hexdigest()
    _, answer = _batch(hub, token, oid, len(data))
    href = urlsplit(answer["objects"][0]["actions"]["upload"]["href"])
    path = f"{href.path}?{href.query}"
    # wrong bytes for the announced sha256, then too few bytes
    assert _raw(hub, "PUT", path, body=b"x" * len(data))[0] == 400
    assert _raw(hub, "PUT", path, body=data[:-1])[0] == 400
    # forged signature, and a signature for another object
    assert _raw(hub, "PUT", path[:-3] + "abc", body=data)[0] == 403
    other = hashlib.sha256(b"other").hexdigest()
    assert _raw(hub, "PUT", f"/lfs/objects/{other}?{href.query}", body=data)[0] == 403
    assert not StoredObject.objects.filter(sha256=oid).exists()
    # expired
    time_machine.move_to(time.time() + 7200, tick=True)
    assert _raw(hub, "PUT", path, body=data)[0] == 403
    assert not StoredObject.objects.filter(sha256=oid).exists()


def test_tokens_without_write_access_are_refused(hub, alice, bob):
    repo = make_repo(alice, "m")
    before = _head(repo)
    for token in (token_for(bob), token_for(alice, role="read")):
        with pytest.raises(HfHubHTTPError) as excinfo:
            HfApi(token=token).upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="alice/m")
        assert excinfo.value.response.status_code == 403
    # LFS uploads: a contributor (bob) may send content for a pull request, a read token nothing.
    assert _batch(hub, token_for(bob), "a" * 64, 10)[0] == 200
    assert _batch(hub, token_for(alice, role="read"), "a" * 64, 10)[0] == 403
    assert _head(repo) == before


@pytest.mark.parametrize(
    "path",
    [
        "../escape.txt",
        "a/../../b",
        ".git/config",
        "sub/.GIT/hooks",
        "a\\b",
        "x\x00y",
        "a//b",
        "C:/x",
        ".cache/x",
        "trailing./x",
        "\u202eevil",
        "x" * 300,
    ],
)
def test_hostile_commit_paths_are_refused(hub, alice, path):
    repo = make_repo(alice, "m")
    before = _head(repo)
    status, headers, body = _raw(
        hub,
        "POST",
        "/api/models/alice/m/commit/main",
        body=_ndjson(
            {"key": "header", "value": {"summary": "evil"}},
            {"key": "file", "value": {"path": path, "content": base64.b64encode(b"x").decode(), "encoding": "base64"}},
        ),
        headers={"Authorization": f"Bearer {token_for(alice)}", "Content-Type": "application/x-ndjson"},
    )
    assert status == (422 if "\\" in path else 400), body  # the Hub answers 422 to a backslash
    assert headers["X-Error-Code"] == "BadRequest"
    assert _head(repo) == before


def test_malformed_commit_bodies_are_refused_and_change_nothing(hub, alice):
    repo = make_repo(alice, "m", {"keep.txt": b"k"})
    before = _head(repo)
    auth = {"Authorization": f"Bearer {token_for(alice)}", "Content-Type": "application/x-ndjson"}
    bodies = [
        b"not json\n",
        _ndjson({"key": "file", "value": {"path": "a", "content": ""}}),  # no header first
        _ndjson({"key": "header", "value": {"summary": "x"}}, {"key": "copyFile", "value": {"path": "a"}}),
        _ndjson({"key": "header", "value": {"summary": "x"}}, {"key": "file", "value": {"path": "a", "content": "!!"}}),
        _ndjson({"key": "header", "value": {"summary": "x"}}, {"key": "deletedFile", "value": {"path": "nope.txt"}}),
        _ndjson(
            {"key": "header", "value": {"summary": "x"}},
            {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": "0" * 64, "size": 3}},
        ),
        _ndjson({"key": "header", "value": {"summary": ""}}),
    ]
    for body in bodies:
        status, _, _ = _raw(hub, "POST", "/api/models/alice/m/commit/main", body=body, headers=auth)
        assert 400 <= status < 500, body
    assert _head(repo) == before


def test_validate_yaml_answers_json(client):
    ok = client.post(
        "/api/validate-yaml",
        {"content": "---\nlicense: mit\n---\n# hi", "repoType": "model"},
        content_type="application/json",
    )
    assert ok.status_code == 200 and ok.json() == {"errors": [], "warnings": []}
    bad = client.post(
        "/api/validate-yaml", {"content": "---\ntags: {a: 1}\nlicense: [1]\n---\n"}, content_type="application/json"
    )
    assert bad.status_code == 400 and len(bad.json()["errors"]) == 2
    broken = client.post("/api/validate-yaml", {"content": "---\n: : :\n---\n"}, content_type="application/json")
    assert broken.status_code == 400 and broken.json()["errors"]


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


_HEADER = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
SAFETENSORS = len(_HEADER).to_bytes(8, "little") + _HEADER + b"\0" * 4


def test_pickles_are_scanned_in_the_worker_and_flagged(hub, alice, settings):
    from config.celery import app
    from registry.models import FileScan

    app.conf.task_always_eager = True
    try:
        make_repo(
            alice,
            "pickles",
            {
                "evil.bin": pickle.dumps(_Evil()),
                "clean.pkl": pickle.dumps({"a": [1, 2]}),
                "model.safetensors": SAFETENSORS,
            },
        )
    finally:
        app.conf.task_always_eager = False
    statuses = {scan.filename: scan.status for scan in FileScan.objects.all()}
    assert statuses == {
        "evil.bin": "unsafe",
        "clean.pkl": "safe",
        "model.safetensors": "safe",
        ".gitattributes": "safe",
    }
    tree = {item.path: item for item in HfApi().list_repo_tree("alice/pickles", expand=True)}
    assert tree["evil.bin"].security["status"] == "unsafe" and not tree["evil.bin"].security["safe"]
    imports = tree["evil.bin"].security["pickle_import_scan"]["imports"]
    assert {"module": "posix", "name": "system", "safety": "dangerous"} in imports or any(
        i["name"] == "system" and i["safety"] == "dangerous" for i in imports
    )
    assert tree["clean.pkl"].security["safe"] and tree["model.safetensors"].security["safe"]


def test_content_of_another_repo_cannot_be_committed_by_hash(hub, alice, bob):
    """Knowing a gated file's sha256 (tree listings show it) must not let anyone copy it."""
    from registry import services as registry_services

    secret = os.urandom(3 * 1024 * 1024)
    repo = make_repo(alice, "gated", {"model.safetensors": secret})
    registry_services.repo_settings_update(repo=repo, gated="manual")
    oid = hashlib.sha256(secret).hexdigest()
    make_repo(bob, "mine")
    bob_token = token_for(bob)
    # the batch does not answer "already stored": bob would have to upload the bytes himself
    status, answer = _batch(hub, bob_token, oid, len(secret), repo="bob/mine")
    assert status == 200 and "actions" in answer["objects"][0]
    status, headers, _ = _raw(
        hub,
        "POST",
        "/api/models/bob/mine/commit/main",
        body=_ndjson(
            {"key": "header", "value": {"summary": "copy"}},
            {
                "key": "lfsFile",
                "value": {"path": "stolen.safetensors", "algo": "sha256", "oid": oid, "size": len(secret)},
            },
        ),
        headers={"Authorization": f"Bearer {bob_token}", "Content-Type": "application/x-ndjson"},
    )
    assert status == 400 and "never uploaded to this repo" in headers["X-Error-Message"]
    assert "stolen.safetensors" not in HfApi().list_repo_files("bob/mine")
    # alice herself can reference it again in her own repo (a copy within the repo)
    assert _batch(hub, token_for(alice), oid, len(secret), repo="alice/gated")[1]["objects"][0].get("actions") is None


def test_lfs_verify_confirms_only_content_this_repo_may_reference(client, alice, bob):
    """A 200 from verify tells the caller the object is stored; for another repo's file it would
    confirm that a guessed or listed hash exists there, so it answers 404 as for a missing object."""
    secret = b"\x01" * 4096
    make_repo(alice, "gated", {"model.safetensors": secret})
    make_repo(bob, "mine")
    body = json.dumps({"oid": hashlib.sha256(secret).hexdigest(), "size": len(secret)})

    def verify(repo_id: str, user) -> int:
        return client.post(
            f"/{repo_id}.git/info/lfs/objects/verify",
            body,
            content_type="application/vnd.git-lfs+json",
            HTTP_AUTHORIZATION=f"Bearer {token_for(user)}",
        ).status_code

    assert verify("bob/mine", bob) == 404
    assert verify("alice/gated", alice) == 200
