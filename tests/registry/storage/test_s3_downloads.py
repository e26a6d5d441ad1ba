"""Downloads on the S3 backend: `/resolve` decides access, then redirects to a short-lived signed
URL of the store (a real one, SeaweedFS); the real client follows it without its token."""

import hashlib
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

from registry import services
from registry.models import Ref, Repo
from registry.storage import content, get_storage, redirects
from tests.support.builders import make_repo, token_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("s3_backend")]

WEIGHTS = os.urandom(300_000)
WEIGHTS_SHA = hashlib.sha256(WEIGHTS).hexdigest()


@pytest.fixture
def tiny(alice):
    return make_repo(alice, "tiny", {"config.json": b'{"a": 1}', "unet/model.safetensors": WEIGHTS})


def _resolve(hub: str, repo_id: str, path: str, *, method: str = "HEAD", token: str | None = None, **headers):
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx2.request(method, f"{hub}/{repo_id}/resolve/main/{path}", headers=headers, follow_redirects=False)


def test_resolve_redirects_to_a_signed_url_of_the_store_carrying_the_metadata(hub, alice, tiny, s3_store):
    head = Ref.objects.get(repo=tiny, name="refs/heads/main").commit_oid

    answer = _resolve(hub, "alice/tiny", "unet/model.safetensors", token=token_for(alice))

    assert answer.status_code == 302
    assert answer.headers["X-Repo-Commit"] == head
    assert answer.headers["X-Linked-Etag"] == f'"{WEIGHTS_SHA}"'
    assert answer.headers["X-Linked-Size"] == str(len(WEIGHTS))
    assert answer.headers["ETag"].strip('"') != WEIGHTS_SHA  # the git blob id of the pointer, as on the Hub
    location = answer.headers["Location"]
    assert location.startswith(s3_store.endpoint + "/")  # the store's origin, not the hub's
    assert urlsplit(location).netloc != urlsplit(hub).netloc
    assert "X-Amz-Expires=300" in location and "X-Amz-Signature=" in location

    fetched = httpx2.get(location, headers={"Range": "bytes=10-19"})
    assert fetched.status_code == 206 and fetched.content == WEIGHTS[10:20]
    assert fetched.headers["Content-Disposition"] == 'attachment; filename="model.safetensors"'
    small = _resolve(hub, "alice/tiny", "config.json", method="GET")  # regular files: from the hub
    assert small.status_code == 200 and small.content == b'{"a": 1}'


def test_hf_hub_download_and_snapshot_download_fetch_from_the_store(hub, tiny, tmp_path):
    path = hf_hub_download("alice/tiny", "unet/model.safetensors")
    assert Path(path).read_bytes() == WEIGHTS

    folder = snapshot_download("alice/tiny", local_dir=tmp_path / "snapshot")
    assert (tmp_path / "snapshot" / "unet" / "model.safetensors").read_bytes() == WEIGHTS
    assert (tmp_path / "snapshot" / "config.json").read_bytes() == b'{"a": 1}'
    assert folder == str(tmp_path / "snapshot")


def test_a_redirected_download_is_counted_and_a_head_is_not(hub, alice):
    repo = make_repo(alice, "weights-only", {"model.safetensors": WEIGHTS})  # no query file: any GET counts

    assert _resolve(hub, "alice/weights-only", "model.safetensors").status_code == 302
    assert Repo.objects.get(pk=repo.pk).downloads == 0
    assert _resolve(hub, "alice/weights-only", "model.safetensors", method="GET").status_code == 302
    assert Repo.objects.get(pk=repo.pk).downloads == 1


def test_the_store_refuses_a_tampered_or_expired_signed_url(hub, tiny, settings):
    location = _resolve(hub, "alice/tiny", "unet/model.safetensors").headers["Location"]
    other_key = location.replace(WEIGHTS_SHA, hashlib.sha256(b"another object").hexdigest())
    forged = location[:-4] + ("0000" if not location.endswith("0000") else "1111")
    unsigned = location.split("?", 1)[0]

    assert httpx2.get(location).content == WEIGHTS
    for refused in (other_key, forged, unsigned):
        assert httpx2.get(refused).status_code == 403

    settings.GATEHOUSE_DOWNLOAD_URL_TTL = 1
    short_lived = _resolve(hub, "alice/tiny", "unet/model.safetensors").headers["Location"]
    time.sleep(2.1)  # past its one second (SigV4 counts whole seconds)
    assert httpx2.get(short_lived).status_code == 403


def test_gated_and_private_repos_are_refused_before_any_redirect(hub, alice, bob):
    gated = make_repo(alice, "gated", {"model.safetensors": WEIGHTS})
    services.repo_settings_update(repo=gated, gated="manual", actor=alice)
    make_repo(alice, "secret", {"model.safetensors": WEIGHTS}, private=True)

    anonymous = _resolve(hub, "alice/gated", "model.safetensors", method="GET")
    stranger = _resolve(hub, "alice/gated", "model.safetensors", method="GET", token=token_for(bob))
    hidden = _resolve(hub, "alice/secret", "model.safetensors", method="GET", token=token_for(bob))
    missing = _resolve(hub, "alice/nothing-here", "model.safetensors", method="GET", token=token_for(bob))

    assert (anonymous.status_code, stranger.status_code) == (401, 403)
    assert hidden.status_code == 404 and hidden.content == missing.content
    assert not any("Location" in answer.headers for answer in (anonymous, stranger, hidden))
    assert Repo.objects.get(pk=gated.pk).downloads == 0
    with pytest.raises(GatedRepoError):
        hf_hub_download("alice/gated", "model.safetensors", token=token_for(bob))
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("alice/secret", "model.safetensors", token=token_for(bob))


def test_a_private_file_is_redirected_with_private_caching(hub, alice):
    make_repo(alice, "secret", {"model.safetensors": WEIGHTS}, private=True)

    answer = _resolve(hub, "alice/secret", "model.safetensors", method="GET", token=token_for(alice))

    assert answer.status_code == 302 and answer.headers["Cache-Control"].startswith("private")
    fetched = httpx2.get(answer.headers["Location"])
    assert fetched.content == WEIGHTS and fetched.headers["Cache-Control"] == "private"
    assert hf_hub_download("alice/secret", "model.safetensors", token=token_for(alice)) is not None


def test_no_redirect_goes_where_the_client_would_send_the_hub_token(hub, alice, tiny, s3_store, settings):
    """A store on the hub's origin, or reached by an http:80 -> https:443 upgrade of its host, or
    on the origin of GATEHOUSE_PUBLIC_URL (the hub's name behind a proxy): the bytes come from
    the hub instead (found by a review: the public URL was not considered)."""
    keeps = redirects._keeps_the_token
    assert keeps("https://hub.example/x", "http://hub.example/") and keeps("http://a:9/x", "http://a:9/")
    assert not keeps("https://store.example/x", "http://hub.example/") and not keeps("http://a:8/x", "http://a:9/")
    assert not keeps("https://hub.example:8443/x", "http://hub.example/")
    assert _resolve(hub, "alice/tiny", "unet/model.safetensors", method="GET").status_code == 302
    settings.GATEHOUSE_PUBLIC_URL = s3_store.endpoint
    served = _resolve(hub, "alice/tiny", "unet/model.safetensors", method="GET")
    assert served.status_code == 200 and served.content == WEIGHTS


def test_xet_uploaded_content_gets_a_plain_object_before_its_first_redirect(hub, alice, tmp_path):
    """hf_xet uploads chunks only; a client without hf_xet asks /resolve for the file, and the first
    GET writes out (rebuilt, verified) the plain object the signed URL points at."""
    make_repo(alice, "xet-up")
    source = tmp_path / "weights.safetensors"
    source.write_bytes(WEIGHTS * 4)
    HfApi(token=token_for(alice)).upload_file(
        path_or_fileobj=str(source), path_in_repo="weights.safetensors", repo_id="alice/xet-up"
    )
    sha = hashlib.sha256(WEIGHTS * 4).hexdigest()
    assert content.xet_hash_of(sha) and not get_storage().exists(sha)

    head = _resolve(hub, "alice/xet-up", "weights.safetensors")
    assert head.status_code == 200 and head.headers["X-Xet-Hash"]  # hf_xet clients never GET
    answer = _resolve(hub, "alice/xet-up", "weights.safetensors", method="GET")

    assert answer.status_code == 302 and get_storage().exists(sha)
    assert httpx2.get(answer.headers["Location"]).content == WEIGHTS * 4
