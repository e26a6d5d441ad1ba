"""Gatehouse as a governed pull-through cache of another hub (issue 21), against a second
Gatehouse on loopback (tests/mirror/conftest.py) through the real huggingface_hub client."""

from __future__ import annotations

import hashlib
import http.client
import time
from pathlib import Path

import pytest
import requests
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

from mirror.models import MirrorObject, MirrorPull
from tests.mirror.conftest import UPSTREAM_NAME, upstream_stopped
from tests.support.builders import UserFactory, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def _set_upstream_token(hub: str, token: str, upstream_token: str) -> requests.Response:
    return requests.put(
        f"{hub}/api/mirror/upstreams/{UPSTREAM_NAME}/token",
        json={"token": upstream_token},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def test_public_repo_reads_through_the_client_and_is_cached(hub, mirror_settings, tmp_path):
    api = HfApi()
    info = api.model_info("upco/public-model")
    assert info.id == "upco/public-model"
    assert info.sha == mirror_settings.public_commit
    refs = api.list_repo_refs("upco/public-model")
    assert [branch.target_commit for branch in refs.branches] == [mirror_settings.public_commit]
    files = {entry.path for entry in api.list_repo_tree("upco/public-model")}
    assert {"config.json", "model.safetensors"} <= files
    [paths_info] = api.get_paths_info("upco/public-model", ["model.safetensors"])
    assert paths_info.lfs is not None and paths_info.size == 300_000

    commits = api.list_repo_commits("upco/public-model")
    assert commits[0].commit_id == mirror_settings.public_commit
    data = hf_hub_download("upco/tiny-data", "data.csv", repo_type="dataset", cache_dir=tmp_path / "d")
    assert Path(data).read_bytes() == b"a,b\n1,2\n"
    assert api.dataset_info("upco/tiny-data").id == "upco/tiny-data"
    path = hf_hub_download("upco/public-model", "config.json", revision=mirror_settings.public_commit)
    assert Path(path).read_bytes() == b'{"hidden_size": 8}\n'
    lfs_path = hf_hub_download("upco/public-model", "model.safetensors", revision=mirror_settings.public_commit)
    expected = paths_info.lfs.sha256
    assert hashlib.sha256(Path(lfs_path).read_bytes()).hexdigest() == expected
    stored = MirrorObject.objects.get(oid=expected)
    assert stored.state == "stored" and stored.sha256 == expected and stored.fetch_count == 1

    # A second download (fresh client cache) is served from the store: no second upstream GET.
    gets = len(mirror_settings.access_lines("GET /upco/public-model/resolve/"))
    again = hf_hub_download("upco/public-model", "model.safetensors", cache_dir=tmp_path / "c2")
    assert Path(again).read_bytes() == Path(lfs_path).read_bytes()
    assert len(mirror_settings.access_lines("GET /upco/public-model/resolve/")) == gets
    pulls = list(MirrorPull.objects.filter(path="model.safetensors").values_list("source", "commit", "user_label"))
    assert pulls == [
        ("upstream", mirror_settings.public_commit, "anonymous"),
        ("cache", mirror_settings.public_commit, "anonymous"),
    ]


def test_gated_repo_needs_the_users_own_upstream_grant(hub, mirror_settings, tmp_path):
    tokens = mirror_settings.tokens
    granted, stranger = UserFactory(username="grace"), UserFactory(username="sam")
    granted_token, stranger_token = token_for(granted), token_for(stranger)
    assert HfApi().model_info("upco/gated-model").id == "upco/gated-model"  # metadata is public, as on the Hub
    with pytest.raises(GatedRepoError):
        hf_hub_download("upco/gated-model", "config.json", cache_dir=tmp_path / "anon")
    with pytest.raises(GatedRepoError):  # signed in here, no upstream token: anonymous there
        hf_hub_download("upco/gated-model", "config.json", token=granted_token, cache_dir=tmp_path / "g0")

    refused = _set_upstream_token(hub, granted_token, "gth_not-a-token")
    assert refused.status_code == 400 and refused.headers["X-Error-Code"] == "UpstreamCredentialsRefused"
    answer = _set_upstream_token(hub, granted_token, tokens["carol"])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"upstream": UPSTREAM_NAME, "upstreamUser": "carol", "hasToken": True}
    assert tokens["carol"] not in answer.text
    from mirror.models import UpstreamCredential

    row = UpstreamCredential.objects.get(user=granted)
    assert tokens["carol"] not in row.ciphertext
    assert _set_upstream_token(hub, stranger_token, tokens["dave"]).status_code == 200

    path = hf_hub_download("upco/gated-model", "config.json", token=granted_token, cache_dir=tmp_path / "g1")
    assert Path(path).read_bytes() == b'{"gated": true}\n'
    # Cached now; still the stranger's own upstream rights decide (dave was never granted), and
    # the anonymous caller's: the operator's token or the cached bytes let nobody past the gate.
    with pytest.raises(GatedRepoError):
        hf_hub_download("upco/gated-model", "config.json", token=stranger_token, cache_dir=tmp_path / "s1")
    with pytest.raises(GatedRepoError):
        hf_hub_download("upco/gated-model", "config.json", cache_dir=tmp_path / "anon2")
    assert list(MirrorPull.objects.filter(repo_id="upco/gated-model").values_list("user_label", flat=True)) == ["grace"]


def test_private_upstream_repo_is_missing_without_the_users_token(hub, mirror_settings, tmp_path):
    owner_here = UserFactory(username="olivia")
    token = token_for(owner_here)
    with pytest.raises(RepositoryNotFoundError):
        HfApi().model_info("upco/private-model")
    with pytest.raises(RepositoryNotFoundError):
        HfApi().model_info("upco/private-model", token=token)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("upco/private-model", "config.json", token=token, cache_dir=tmp_path / "a")
    # Private looks exactly like missing.
    missing = requests.get(f"{hub}/api/models/upco/no-such-model", headers={"Authorization": f"Bearer {token}"})
    private = requests.get(f"{hub}/api/models/upco/private-model", headers={"Authorization": f"Bearer {token}"})
    assert (private.status_code, private.content) == (missing.status_code, missing.content) == (404, private.content)

    # A pasted token with a newline is refused before it goes anywhere (it once reached the log).
    refused = _set_upstream_token(hub, token, mirror_settings.tokens["upco"] + "\n")
    assert refused.status_code == 400 and mirror_settings.tokens["upco"] not in refused.text
    assert _set_upstream_token(hub, token, mirror_settings.tokens["upco"]).status_code == 200
    assert HfApi().model_info("upco/private-model", token=token).id == "upco/private-model"
    path = hf_hub_download("upco/private-model", "secret.safetensors", token=token, cache_dir=tmp_path / "b")
    assert len(Path(path).read_bytes()) == 50_000
    # A fine-grained token carries none of the user's upstream rights (found by a review): private
    # upstream repos are missing to it, as to a stranger.
    from tests.support.builders import fine_token, make_repo

    scoped = fine_token(owner_here, [(make_repo(owner_here, "local"), ["repo.content.read"])])
    with pytest.raises(RepositoryNotFoundError):
        HfApi().model_info("upco/private-model", token=scoped)


def test_upstream_bytes_prove_nothing_for_a_local_repo(hub, mirror_settings, tmp_path, client):
    """An attacker who knows a mirrored private file's sha256 (public metadata upstream shows it
    to whoever may see the repo) cannot commit it to a repo of their own."""
    from registry.models import Repo
    from tests.support.builders import make_repo
    from tests.support.commit_api import lfs_file, post_commit

    reader = UserFactory(username="rita")
    reader_token = token_for(reader)
    assert _set_upstream_token(hub, reader_token, mirror_settings.tokens["upco"]).status_code == 200
    path = hf_hub_download("upco/private-model", "secret.safetensors", token=reader_token, cache_dir=tmp_path / "r")
    data = Path(path).read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    assert MirrorObject.objects.filter(oid=sha256, state="stored").exists()

    attacker = UserFactory(username="mallory")
    repo = make_repo(attacker, "loot")
    response = post_commit(
        client, token_for(attacker), "mallory/loot", [lfs_file("loot.safetensors", sha256, len(data))]
    )
    assert response.status_code == 400, response.content
    assert "loot.safetensors" in response.json()["error"]
    assert not Repo.objects.get(pk=repo.pk).refs.filter(commit_oid__in=[]).exists()
    batch = client.post(
        "/mallory/loot.git/info/lfs/objects/batch",
        data={"operation": "upload", "objects": [{"oid": sha256, "size": len(data)}]},
        content_type="application/vnd.git-lfs+json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(attacker)}",
    )
    assert batch.status_code == 200
    [answer] = batch.json()["objects"]
    assert "upload" in answer.get("actions", {}), answer  # the bytes are asked for: nothing is "already there"


def test_a_mirrored_namespace_is_never_local(hub, mirror_settings, tmp_path):
    from accounts import services as accounts
    from core.errors import Forbidden

    local = UserFactory(username="lena")
    token = token_for(local)
    with pytest.raises(Forbidden):
        accounts.user_create(username="UpCo", email="x@example.org", password="correct-horse-battery-9")
    with pytest.raises(Forbidden):
        accounts.org_create(name="upco", creator=local)
    created = requests.post(
        f"{hub}/api/repos/create",
        json={"name": "shadow", "organization": "upco"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 403 and created.headers["X-Error-Code"] == "MirroredNamespace"
    # Mirrored repos are read-only: uploads, pull requests and discussions are refused.
    api = HfApi(token=token)
    for write in (
        lambda: api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id="upco/public-model"),
        lambda: api.create_discussion("upco/public-model", title="hi"),
        lambda: api.create_branch("upco/public-model", branch="dev"),
    ):
        with pytest.raises(Exception) as refused:
            write()
        assert refused.value.response.status_code == 403
        assert refused.value.response.headers["X-Error-Code"] == "MirrorReadOnly"
    # No fall-through: an id missing upstream is missing here, whatever exists locally.
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("upco/not-there")
    # A mirrored namespace-less id is asked of the upstream (which has no such repo), and its
    # name is no local namespace either.
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("gpt2")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("gpt2", "config.json", cache_dir=tmp_path / "gpt2")
    assert mirror_settings.access_lines("GET /api/models/gpt2 ")
    assert mirror_settings.access_lines("HEAD /gpt2/resolve/main/config.json ") == []  # missing: no file asked
    with pytest.raises(Forbidden):
        accounts.user_create(username="gpt2", email="y@example.org", password="correct-horse-battery-9")


def test_license_and_repo_rules(hub, mirror_settings, tmp_path):
    # Paths go upstream as they came: none may climb out of the repo named (to a denied one here).
    for sneaky in (
        "/api/models/upco/public-model/tree/main/../../../../upco/blocked-model",
        "/upco/public-model/resolve/../../blocked-model/resolve/main/config.json",
        "/api/models/upco/public-model/tree/main/%2e%2e/%2E%2E/x",
    ):
        connection = http.client.HTTPConnection(hub.removeprefix("http://"), timeout=30)
        connection.request("GET", sneaky)  # sent as written (requests would remove the dot segments)
        assert connection.getresponse().status == 400, sneaky
        connection.close()
    assert not mirror_settings.access_lines("blocked-model")
    api = HfApi()
    assert api.model_info("upco/nc-model").id == "upco/nc-model"  # its license can be read
    refused = requests.get(f"{hub}/upco/nc-model/resolve/main/config.json")
    assert refused.status_code == 403 and refused.headers["X-Error-Code"] == "MirrorRuleRefused"
    assert "cc-by-nc-4.0" in refused.headers["X-Error-Message"]
    # Found by an outsider attack: a branch under a denied license passed the rules, judged on
    # the default branch's card alone.
    assert requests.get(f"{hub}/upco/relicensed/resolve/main/config.json").status_code == 200
    pinned = requests.get(f"{hub}/upco/relicensed/resolve/nc/config.json")
    assert pinned.status_code == 403 and pinned.headers["X-Error-Code"] == "MirrorRuleRefused"
    blocked = requests.get(f"{hub}/api/models/upco/blocked-model")
    assert blocked.status_code == 403 and blocked.headers["X-Error-Code"] == "MirrorRuleRefused"
    assert not MirrorObject.objects.exclude(filename="config.json").exists()
    assert not MirrorPull.objects.exclude(repo_id="upco/relicensed").exists()


def _stored_row(filename: str) -> MirrorObject:
    deadline = time.monotonic() + 30
    while not MirrorObject.objects.filter(filename=filename, state="stored").exists():
        assert time.monotonic() < deadline, f"{filename} was not stored"
        time.sleep(0.05)
    return MirrorObject.objects.get(filename=filename)


def test_pickle_files_are_scanned_before_their_first_byte(hub, mirror_settings, tmp_path):
    from mirror.tasks import mirror_scan_task

    url = f"{hub}/upco/public-model/resolve/main/weights.bin"
    pending = requests.get(url)
    assert pending.status_code == 503 and pending.headers["X-Error-Code"] == "ScanPending"
    assert int(pending.headers["Retry-After"]) > 0
    row = _stored_row("weights.bin")  # the fetch went on in the background (mirror/spool.py)
    assert row.scan_status == "queued"
    # No worker ran it (none runs in tests): once GATEHOUSE_SCAN_RETRY_AFTER has passed, the next
    # request sends it again (run at once here).
    from datetime import timedelta

    from django.utils import timezone

    from config.celery import app

    MirrorObject.objects.filter(pk=row.pk).update(fetched_at=timezone.now() - timedelta(hours=1))
    app.conf.task_always_eager = True
    try:
        assert requests.get(url).status_code == 503
    finally:
        app.conf.task_always_eager = False
    assert MirrorObject.objects.get(pk=row.pk).scan_status == "safe"
    path = hf_hub_download("upco/public-model", "weights.bin", cache_dir=tmp_path / "w")
    assert Path(path).read_bytes()[:1] == b"\x80"

    evil = requests.get(f"{hub}/upco/public-model/resolve/main/evil.bin")
    assert evil.status_code == 503
    mirror_scan_task(_stored_row("evil.bin").pk)
    refused = requests.get(f"{hub}/upco/public-model/resolve/main/evil.bin")
    assert refused.status_code == 403 and refused.headers["X-Error-Code"] == "UnsafeContent"


def test_a_pickle_name_is_scanned_even_when_its_bytes_were_fetched_under_another(hub, mirror_settings):
    """Found by an outsider attack: bytes first fetched as `blob.txt` (a protocol-0 pickle has no
    magic to sniff) were then served as `model.pkl` without a scan."""
    harmless = requests.get(f"{hub}/upco/twins/resolve/main/blob.txt")
    assert harmless.status_code == 200
    pickled = requests.get(f"{hub}/upco/twins/resolve/main/model.pkl")
    assert pickled.status_code == 503 and pickled.headers["X-Error-Code"] == "ScanPending"
    assert b"system" not in pickled.content


def test_cached_content_is_served_while_the_upstream_is_down(hub, mirror_settings, tmp_path, settings):
    # Nothing fresh: every answer is asked of the upstream, so its absence shows.
    settings.GATEHOUSE_MIRROR_METADATA_TTL = settings.GATEHOUSE_MIRROR_ACCESS_TTL = 0
    commit = mirror_settings.public_commit
    snapshot = snapshot_download(
        "upco/public-model", revision=commit, allow_patterns=["*.json", "README.md"], cache_dir=tmp_path / "s"
    )
    assert Path(f"{snapshot}/config.json").read_bytes() == b'{"hidden_size": 8}\n'
    with upstream_stopped(mirror_settings):
        info = requests.get(f"{hub}/api/models/upco/public-model").json()
        assert info["gatehouseMirror"]["upstream"] == UPSTREAM_NAME and info["gatehouseMirror"]["stale"] is True
        assert HfApi().model_info("upco/public-model").sha == commit
        again = hf_hub_download("upco/public-model", "config.json", revision=commit, cache_dir=tmp_path / "down")
        assert Path(again).read_bytes() == b'{"hidden_size": 8}\n'
        fresh = requests.get(f"{hub}/upco/public-model/resolve/{commit}/model.safetensors")
        assert fresh.status_code == 503 and fresh.headers["X-Error-Code"] == "UpstreamUnavailable"
        assert "Retry-After" in fresh.headers
    assert MirrorPull.objects.filter(path="config.json", source="stale").exists()


def test_portal_marks_mirrored_repos_and_operators_purge(hub, mirror_settings, tmp_path, client):
    from django.core.management import call_command

    hf_hub_download("upco/public-model", "config.json", cache_dir=tmp_path / "p")
    page = client.get("/upco/public-model")
    assert page.status_code == 200
    text = page.content.decode()
    assert f"mirrored from {UPSTREAM_NAME}" in text and "config.json" in text
    assert 'data-testid="mirror-pulls"' not in text  # pulls are for operators
    stranger = UserFactory(username="stan")
    client.force_login(stranger)
    refused = client.post("/upco/public-model/mirror-purge")
    assert refused.status_code == 403 and refused["X-Error-Code"] == "MirrorReadOnly"
    assert MirrorObject.objects.filter(state="stored").count() == 1

    operator = UserFactory(username="opal", is_staff=True, is_superuser=True)
    client.force_login(operator)
    text = client.get("/upco/public-model").content.decode()
    assert 'data-testid="mirror-pulls"' in text and "anonymous config.json" in text
    assert client.post("/upco/public-model/mirror-purge").status_code == 302
    assert not MirrorObject.objects.exists()
    # Fetched again on next use; the command purges as the button does.
    hf_hub_download("upco/public-model", "config.json", cache_dir=tmp_path / "p2")
    assert MirrorObject.objects.get().fetch_count == 1
    call_command("mirror_purge", "upco/public-model")
    assert not MirrorObject.objects.exists()


def test_an_operator_accepts_a_gated_repo_on_the_organisations_behalf(hub, mirror_settings, settings, tmp_path):
    from django.core.management import CommandError, call_command

    from mirror.models import MirrorAcceptance

    member = UserFactory(username="mona")
    token = token_for(member)
    with pytest.raises(CommandError):  # no operator token configured: nothing to accept with
        call_command("mirror_accept", "upco/gated-model", "--by", "legal", "--reason", "reviewed")
    settings.GATEHOUSE_UPSTREAMS = [{**settings.GATEHOUSE_UPSTREAMS[0], "token": mirror_settings.tokens["upco"]}]
    with pytest.raises(GatedRepoError):
        hf_hub_download("upco/gated-model", "config.json", token=token, cache_dir=tmp_path / "before")
    call_command("mirror_accept", "upco/gated-model", "--by", "J. Doe, legal", "--reason", "terms reviewed")
    acceptance = MirrorAcceptance.objects.get()
    path = hf_hub_download("upco/gated-model", "config.json", token=token, cache_dir=tmp_path / "after")
    assert Path(path).read_bytes() == b'{"gated": true}\n'
    pull = MirrorPull.objects.get(repo_id="upco/gated-model")
    assert (pull.user_label, pull.acceptance_id) == ("mona", acceptance.pk)
    with pytest.raises(GatedRepoError):  # anonymous callers never pass through an acceptance
        hf_hub_download("upco/gated-model", "config.json", cache_dir=tmp_path / "anon")
    with pytest.raises(RepositoryNotFoundError):  # nor does it open what the upstream hides (private)
        call_command("mirror_accept", "upco/private-model", "--by", "x", "--reason", "y")
        hf_hub_download("upco/private-model", "config.json", token=token, cache_dir=tmp_path / "private")
    call_command("mirror_accept", "upco/gated-model", "--revoke")
    with pytest.raises(GatedRepoError):  # at once: the acceptance is read at every download
        hf_hub_download("upco/gated-model", "config.json", token=token, cache_dir=tmp_path / "revoked")


def test_no_access_verdict_older_than_its_ttl_opens_gated_or_private_content(hub, mirror_settings, settings):
    """While the upstream is down, cached answers keep public content serving (marked stale); a
    verdict that let a caller at gated or private content stands GATEHOUSE_MIRROR_ACCESS_TTL at
    most (the upstream may have revoked the caller since): after it, 503 with Retry-After."""
    member = UserFactory(username="uma")
    token = token_for(member)
    assert _set_upstream_token(hub, token, mirror_settings.tokens["upco"]).status_code == 200
    headers = {"Authorization": f"Bearer {token}"}
    urls = {
        "public": f"{hub}/upco/public-model/resolve/main/config.json",
        "gated": f"{hub}/upco/gated-model/resolve/main/config.json",
        "private": f"{hub}/upco/private-model/resolve/main/config.json",
    }
    for url in urls.values():
        assert requests.get(url, headers=headers).status_code == 200
    with upstream_stopped(mirror_settings):
        # Within the verdicts' TTL (and the metadata's): served as cached, the upstream not asked.
        for url in urls.values():
            assert requests.get(url, headers=headers).status_code == 200
        # Past it (the TTLs lowered: every cached answer is now older than they allow).
        settings.GATEHOUSE_MIRROR_METADATA_TTL = settings.GATEHOUSE_MIRROR_ACCESS_TTL = 0
        public = requests.get(urls["public"], headers=headers)
        assert public.status_code == 200 and public.headers["X-Gatehouse-Mirror"] == f"{UPSTREAM_NAME}; stale"
        assert public.content == b'{"hidden_size": 8}\n'
        for kind in ("gated", "private"):
            refused = requests.get(urls[kind], headers=headers)
            assert refused.status_code == 503, (kind, refused.text)
            assert refused.headers["X-Error-Code"] == "UpstreamUnavailable" and int(refused.headers["Retry-After"]) > 0
            assert b"gated" not in refused.content and b"private" not in refused.content
        # A private repo's metadata is what its verdict showed: refused alike; a public one's is served.
        private_info = requests.get(f"{hub}/api/models/upco/private-model", headers=headers)
        assert private_info.status_code == 503 and private_info.headers["X-Error-Code"] == "UpstreamUnavailable"
        public_info = requests.get(f"{hub}/api/models/upco/public-model", headers=headers)
        assert public_info.status_code == 200 and public_info.json()["gatehouseMirror"]["stale"] is True
    sources = list(MirrorPull.objects.filter(user=member).values_list("repo_id", "source"))
    assert sorted(set(sources)) == [
        ("upco/gated-model", "cache"),
        ("upco/gated-model", "upstream"),
        ("upco/private-model", "cache"),
        ("upco/private-model", "upstream"),
        ("upco/public-model", "cache"),
        ("upco/public-model", "stale"),
        ("upco/public-model", "upstream"),
    ]


def test_a_bounded_mirror_evicts_the_least_recently_served(hub, mirror_settings, settings, tmp_path):
    """GATEHOUSE_MIRROR_MAX_BYTES: past it the least recently served stored objects go (the
    beat's task, run here by hand); downloads in flight of an evicted object finish, and the
    next request fetches it again. Serving records its time at most once a minute per object."""
    from datetime import timedelta

    from django.utils import timezone

    from mirror.content import mirror_storage
    from mirror.tasks import mirror_evict_task

    commit = mirror_settings.public_commit
    base = f"{hub}/upco/public-model/resolve/{commit}"
    for name in ("config.json", "README.md", "model.safetensors", "big.safetensors"):
        assert requests.get(f"{base}/{name}").status_code == 200
    rows = {row.filename: row for row in MirrorObject.objects.all()}
    assert all(row.state == "stored" and row.last_served_at is None for row in rows.values())

    # Served from the store: the time is recorded once, and not rewritten within the minute.
    assert requests.get(f"{base}/config.json").status_code == 200
    first = MirrorObject.objects.get(pk=rows["config.json"].pk).last_served_at
    assert first is not None
    assert requests.get(f"{base}/config.json").status_code == 200
    assert MirrorObject.objects.get(pk=rows["config.json"].pk).last_served_at == first
    now = timezone.now()

    def served_ago(**minutes: int) -> None:
        for name, ago in minutes.items():
            filename = name.replace("_", ".")
            MirrorObject.objects.filter(pk=rows[filename].pk).update(last_served_at=now - timedelta(minutes=ago))

    served_ago(config_json=2)
    assert requests.get(f"{base}/config.json").status_code == 200
    assert MirrorObject.objects.get(pk=rows["config.json"].pk).last_served_at > now - timedelta(seconds=30)

    settings.GATEHOUSE_MIRROR_MAX_BYTES = 0  # unbounded: nothing goes
    assert mirror_evict_task() == 0 and MirrorObject.objects.count() == 4

    # A download of the least recently served object is in flight when it is evicted.
    in_flight = requests.get(f"{base}/big.safetensors", stream=True)
    assert in_flight.status_code == 200
    chunks = in_flight.iter_content(64 * 1024)
    received = [next(chunks)]
    big_path = mirror_storage().local_path(rows["big.safetensors"].sha256)
    assert big_path.exists()
    served_ago(big_safetensors=30, model_safetensors=20, README_md=10)
    # Bounded at 200 kB: the two least recently served (12 MiB and 300 kB) go, down to 90% of it.
    settings.GATEHOUSE_MIRROR_MAX_BYTES = 200_000
    assert mirror_evict_task() == 2
    assert sorted(MirrorObject.objects.values_list("filename", flat=True)) == ["README.md", "config.json"]
    assert not big_path.exists()
    received.extend(chunks)
    assert hashlib.sha256(b"".join(received)).hexdigest() == rows["big.safetensors"].oid  # it finished
    assert mirror_evict_task() == 0  # within the bound now

    gets = len(mirror_settings.access_lines("GET /upco/public-model/resolve/"))
    again = requests.get(f"{base}/model.safetensors")
    assert hashlib.sha256(again.content).hexdigest() == rows["model.safetensors"].oid
    assert len(mirror_settings.access_lines("GET /upco/public-model/resolve/")) == gets + 1  # fetched again
    assert MirrorObject.objects.get(filename="model.safetensors").fetch_count == 1


def _commit_upstream(repo_id: str, files: dict[str, str], upstream) -> None:
    """A commit made in the upstream Gatehouse, through its own services (as the seed is)."""
    import json
    import subprocess
    import sys

    from tests.support.gunicorn import ROOT

    namespace, name = repo_id.split("/")
    code = (
        "import json; from registry.models import Repo; from tests.support.builders import commit_files; "
        f"repo = Repo.objects.get(namespace={namespace!r}, name={name!r}); "
        f"files = {{k: v.encode() for k, v in json.loads({json.dumps(json.dumps(files))}).items()}}; "
        "from accounts.models import User; commit_files(repo, files, author=User.objects.get(username=repo.namespace))"
    )
    subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=upstream.env, check=True)


def test_a_license_that_needs_acknowledgment_is_accepted_here_too(hub, mirror_settings, settings, tmp_path, client):
    """A mirrored repo under a license our catalogue says needs acknowledgment (OpenRAIL) serves
    files only to users who accepted its exact text here, through the licenses flow local repos
    use (the same typed error until then), per user and license version: a new text upstream
    needs a new acceptance."""
    from huggingface_hub.errors import HfHubHTTPError

    from mirror.models import MirrorLicenseAcknowledgment
    from tests.mirror.upstream_seed import RAIL_LICENSE

    # Every answer asked again: the new license text below shows at once.
    settings.GATEHOUSE_MIRROR_METADATA_TTL = settings.GATEHOUSE_MIRROR_ACCESS_TTL = 0
    reader, other = UserFactory(username="rhea"), UserFactory(username="otto")
    token, other_token = token_for(reader), token_for(other)
    for who in (token, other_token):  # the upstream's owner there: its own license flow exempts them
        assert _set_upstream_token(hub, who, mirror_settings.tokens["upco"]).status_code == 200
    auth = {"Authorization": f"Bearer {token}"}
    api = f"{hub}/api/models/upco/rail-model/license"

    with pytest.raises(GatedRepoError) as refused:
        hf_hub_download("upco/rail-model", "config.json", token=token, cache_dir=tmp_path / "a")
    assert refused.value.response.status_code == 403
    assert "requires accepting its license" in refused.value.response.headers["X-Error-Message"]
    assert "/upco/rail-model/license?revision=" in refused.value.response.headers["X-Error-Message"]
    assert not MirrorPull.objects.filter(repo_id="upco/rail-model").exists()
    assert not MirrorObject.objects.exists()

    shown = requests.get(api, headers=auth).json()
    assert shown["requiresAcknowledgment"] is True and shown["acknowledged"] is False
    assert shown["text"] == RAIL_LICENSE and shown["version"] == hashlib.sha256(RAIL_LICENSE.encode()).hexdigest()
    first_commit = shown["revision"]
    accept = f"{api}/accept"
    wrong = requests.post(accept, json={"version": "0" * 64}, headers=auth)
    assert wrong.status_code == 409
    read_only = {"Authorization": f"Bearer {token_for(reader, role='read', name='r')}"}
    assert requests.post(accept, json={"version": shown["version"]}, headers=read_only).status_code == 403
    assert not MirrorLicenseAcknowledgment.objects.exists()
    accepted = requests.post(accept, json={"version": shown["version"], "revision": first_commit}, headers=auth)
    assert accepted.status_code == 201, accepted.text
    assert requests.post(accept, json={"version": shown["version"]}, headers=auth).status_code == 200  # a replay
    assert requests.get(api, headers=auth).json()["acknowledged"] is True

    path = hf_hub_download("upco/rail-model", "config.json", token=token, cache_dir=tmp_path / "b")
    assert Path(path).read_bytes() == b'{"rail": true}\n'
    with pytest.raises(GatedRepoError):  # per user
        hf_hub_download("upco/rail-model", "config.json", token=other_token, cache_dir=tmp_path / "c")
    with pytest.raises(HfHubHTTPError):  # anonymous: the upstream's own flow refuses first
        hf_hub_download("upco/rail-model", "config.json", cache_dir=tmp_path / "d")

    # The text changes upstream: the new version needs its own acceptance, at every revision (the
    # mirror cannot tell a pull request's commit from a branch's: an old commit under the accepted
    # text needs the head's text too, see tests/mirror/test_license_revisions.py).
    new_text = RAIL_LICENSE + "Second text: one more restriction.\n"
    _commit_upstream("upco/rail-model", {"LICENSE": new_text}, mirror_settings)
    with pytest.raises(GatedRepoError) as changed:
        hf_hub_download("upco/rail-model", "config.json", token=token, cache_dir=tmp_path / "e")
    assert "The license text changed" in changed.value.response.headers["X-Error-Message"]
    with pytest.raises(GatedRepoError):
        hf_hub_download("upco/rail-model", "config.json", revision=first_commit, token=token, cache_dir=tmp_path / "f")

    # The page: the new text, accepted with a session (the form the local license page has).
    client.force_login(reader)
    page = client.get("/upco/rail-model/license")
    assert page.status_code == 200
    text = page.content.decode()
    new_version = hashlib.sha256(new_text.encode()).hexdigest()
    assert new_version in text and "one more restriction" in text and 'data-testid="accept-form"' in text
    head = requests.get(api, headers=auth).json()["revision"]
    assert client.post("/upco/rail-model/license", {"version": new_version, "revision": head}).status_code == 302
    path = hf_hub_download("upco/rail-model", "config.json", token=token, cache_dir=tmp_path / "g")
    assert Path(path).read_bytes() == b'{"rail": true}\n'
    old = hf_hub_download(
        "upco/rail-model", "config.json", revision=first_commit, token=token, cache_dir=tmp_path / "h"
    )
    assert Path(old).read_bytes() == b'{"rail": true}\n'
    versions = sorted(MirrorLicenseAcknowledgment.objects.filter(user=reader).values_list("text_id", "source"))
    assert versions == sorted([(shown["version"], "api"), (new_version, "web")])
