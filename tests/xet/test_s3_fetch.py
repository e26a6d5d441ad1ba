"""Xet on the S3 backend: reconstruction fetch URLs are the store's own, each signed for exactly
its byte range of the xorb (which may hold chunks of other files and other repos)."""

import os

import httpx2
import pytest

from registry.storage import get_xet_storage
from tests.support.builders import make_repo, token_for
from tests.xet.conftest import commit_xet_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("s3_backend")]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_fetch_urls_are_the_stores_own_and_serve_only_their_signed_range(cas, alice, s3_store, version):
    repo = make_repo(alice, "fetch", {"README.md": b"# f\n"})
    file_hash, sha256 = cas.upload(repo, alice, os.urandom(300_000))
    commit_xet_file(repo, alice, "w.bin", sha256)
    token = cas.token("alice/fetch", token_for(alice), scope="read").json()["accessToken"]

    plan = cas.reconstruction(token, file_hash, "bytes=100000-199999", version=version).json()  # a part of the file
    if version == "v1":
        (xorb, [entry]) = next(iter(plan["fetch_info"].items()))
        url, first, last = entry["url"], entry["url_range"]["start"], entry["url_range"]["end"]
    else:
        (xorb, [entry]) = next(iter(plan["xorbs"].items()))
        ([signed],) = [entry["ranges"]]
        url, first, last = entry["url"], signed["bytes"]["start"], signed["bytes"]["end"]
    with get_xet_storage().open(xorb) as handle:
        stored = handle.read()

    assert url.startswith(s3_store.endpoint + "/") and 0 < first < last < len(stored) - 1
    fetched = httpx2.get(url, headers={"Range": f"bytes={first}-{last}"})
    assert fetched.status_code == 206 and fetched.content == stored[first : last + 1]
    assert fetched.headers["Cache-Control"] == "private"  # other repos' chunks may share the xorb
    for other in (f"bytes={first}-{last + 1}", f"bytes={first - 1}-{last}", f"bytes=0-{len(stored) - 1}"):
        assert httpx2.get(url, headers={"Range": other}).status_code == 403, other
    assert httpx2.get(url).status_code == 403  # no Range: the whole xorb
    unsigned = url.split("?", 1)[0]
    assert httpx2.get(unsigned, headers={"Range": f"bytes={first}-{last}"}).status_code == 403
