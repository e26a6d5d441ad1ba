"""Browser: uploads from the upload page go the client's way (preupload, the LFS batch API's
multipart transfer in parts, one commit at the end), with progress per file and in all, and a
part whose connection drops is sent again."""

import hashlib
import os
import re

import pytest

from registry.models import Repo
from registry.selectors import resolve_revision
from registry.storage import get_storage
from tests.e2e.test_gating_journey import _login
from tests.support.builders import UserFactory, make_repo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHUNK = 64 * 1024
WEIGHTS = os.urandom(5 * CHUNK + 1234)  # six parts
CONFIG = b'{"layers": 2}\n'
PART = re.compile(r"/lfs/objects/[0-9a-f]{64}/parts/(\d+)\?")


def _files(repo):
    from registry.git import trees

    return dict(trees.iter_files(resolve_revision(repo, "main").tree_oid))


def test_multipart_upload_survives_a_dropped_part(page, live_server, settings):
    settings.GATEHOUSE_LFS_CHUNK_SIZE = CHUNK
    settings.GATEHOUSE_LFS_MULTIPART_THRESHOLD = CHUNK
    owner = UserFactory(username="olive")
    make_repo(owner, "painter")
    base = live_server.url
    _login(page, base, "olive")

    puts: list[int] = []
    held = []

    def on_part(route):
        number = int(PART.search(route.request.url).group(1))
        puts.append(number)
        if number == 2 and puts.count(2) == 1:
            route.abort("connectionreset")  # the connection drops mid-upload, once
        elif number == 4:
            held.append(route)  # answered below, once the page has shown its progress
        else:
            route.continue_()

    page.route(PART, on_part)
    form_posts = []
    page.on("request", lambda r: form_posts.append(r.url) if r.method == "POST" and "/upload/" in r.url else None)

    page.goto(f"{base}/olive/painter/upload/main")
    page.get_by_test_id("upload-files").set_input_files(
        [
            {"name": "weights.bin", "mimeType": "application/octet-stream", "buffer": WEIGHTS},
            {"name": "config.json", "mimeType": "application/json", "buffer": CONFIG},
        ]
    )
    page.fill("input[name=directory]", "unet")
    page.get_by_test_id("commit-summary").fill("Add the unet from the browser")
    page.click("button:has-text('Commit changes')")

    # Part 4 is held: the page shows where it is, with the retry of part 2 behind it.
    row = page.locator('[data-path="unet/weights.bin"]')
    page.wait_for_function(
        "() => document.querySelector('[data-path=\"unet/weights.bin\"]').textContent.includes('part 4 of 6')"
    )
    assert row.get_attribute("data-retries") == "1"
    assert int(row.get_attribute("data-sent")) >= 3 * CHUNK
    total = page.get_by_test_id("upload-total").inner_text()
    assert re.match(r"^\d+\.\d KB of \d+\.\d KB( · about .+ left)?$", total), total
    assert f" of {(len(WEIGHTS) + len(CONFIG)) / 1024:.1f} KB" in total
    assert set(_files(Repo.objects.get())) == {".gitattributes"}  # nothing committed before every file arrived
    for _ in range(100):  # the route handler runs when the request reaches Playwright
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1
    held.pop().continue_()

    page.wait_for_url(f"{base}/olive/painter/tree/main")
    assert sorted(puts) == [1, 2, 2, 3, 4, 5, 6]
    assert form_posts == []  # nothing went through the form post
    repo = Repo.objects.get()
    files = _files(repo)
    assert {"unet/weights.bin", "unet/config.json"} <= set(files)
    assert files["unet/weights.bin"]["lfs"]["sha256"] == hashlib.sha256(WEIGHTS).hexdigest()
    assert not files["unet/config.json"].get("lfs")
    response = page.request.get(f"{base}/olive/painter/resolve/main/unet/weights.bin")
    assert response.status == 200 and hashlib.sha256(response.body()).digest() == hashlib.sha256(WEIGHTS).digest()
    assert page.request.get(f"{base}/olive/painter/resolve/main/unet/config.json").body() == CONFIG
    commits = page.request.get(f"{base}/api/models/olive/painter/commits/main").json()
    assert commits[0]["title"] == "Add the unet from the browser" and len(commits) == 2


def test_a_refused_upload_says_why_and_commits_nothing(page, live_server, settings):
    settings.GATEHOUSE_MAX_FILE_SIZE = 1000
    owner = UserFactory(username="olive")
    make_repo(owner, "painter")
    base = live_server.url
    _login(page, base, "olive")
    page.goto(f"{base}/olive/painter/upload/main")
    page.get_by_test_id("upload-files").set_input_files(
        [{"name": "big.bin", "mimeType": "application/octet-stream", "buffer": os.urandom(4000)}]
    )
    page.click("button:has-text('Commit changes')")
    error = page.get_by_test_id("upload-error")
    error.wait_for(state="visible")
    assert "big.bin" in error.inner_text() and "Nothing was committed" in error.inner_text()
    assert page.url == f"{base}/olive/painter/upload/main"
    assert page.locator("button:has-text('Commit changes')").is_enabled()
    assert set(_files(Repo.objects.get())) == {".gitattributes"}


S3_PART = re.compile(r"[?&]partNumber=(\d+)&")


@pytest.mark.slow  # 10 MB through SeaweedFS; the default suite checks the page's CSP (test_portal_write.py)
def test_multipart_upload_goes_straight_to_s3(page, live_server, settings, s3_backend):
    """On the S3 backend the parts go from the browser to the bucket's presigned part URLs (the
    store answers CORS and exposes ETag), one part dropped once; the hub sees only the batch,
    the completion, verify and the commit."""
    settings.GATEHOUSE_LFS_CHUNK_SIZE = 5 * 1024 * 1024  # the S3 minimum
    settings.GATEHOUSE_LFS_MULTIPART_THRESHOLD = 5 * 1024 * 1024
    weights = os.urandom(2 * 5 * 1024 * 1024 + 4321)  # three parts
    owner = UserFactory(username="olive")
    make_repo(owner, "painter")
    base = live_server.url
    # What an operator sets on the bucket for browser uploads (README): PUT from the hub, ETag readable.
    store = get_storage()
    rule = {"AllowedOrigins": [base], "AllowedMethods": ["PUT"], "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"]}
    store.client.put_bucket_cors(Bucket=store.bucket, CORSConfiguration={"CORSRules": [rule]})
    _login(page, base, "olive")
    puts: list[int] = []

    def on_part(route):
        puts.append(int(S3_PART.search(route.request.url).group(1)))
        if puts == [1, 2]:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(S3_PART, on_part)
    hub_part_puts = []
    page.on("request", lambda r: hub_part_puts.append(r.url) if r.url.startswith(base) and "/parts/" in r.url else None)
    page.goto(f"{base}/olive/painter/upload/main")
    page.get_by_test_id("upload-files").set_input_files(
        [{"name": "weights.safetensors", "mimeType": "application/octet-stream", "buffer": weights}]
    )
    page.click("button:has-text('Commit changes')")
    page.wait_for_url(f"{base}/olive/painter/tree/main", timeout=60_000)
    assert puts == [1, 2, 2, 3] and hub_part_puts == []
    files = _files(Repo.objects.get())
    assert files["weights.safetensors"]["lfs"]["sha256"] == hashlib.sha256(weights).hexdigest()
    response = page.request.get(f"{base}/olive/painter/resolve/main/weights.safetensors")
    assert response.status == 200 and hashlib.sha256(response.body()).digest() == hashlib.sha256(weights).digest()


@pytest.mark.slow
def test_a_large_file_from_the_browser(page, live_server, settings, tmp_path):
    """256 MiB in 16 MiB parts: the page holds one slice at a time; prints the time it took."""
    import time

    settings.GATEHOUSE_LFS_CHUNK_SIZE = settings.GATEHOUSE_LFS_MULTIPART_THRESHOLD = 16 * 1024 * 1024
    big = tmp_path / "big.safetensors"
    digest = hashlib.sha256()
    with big.open("wb") as handle:
        for _ in range(256):
            block = os.urandom(1024 * 1024)
            digest.update(block)
            handle.write(block)
    make_repo(UserFactory(username="olive"), "painter")
    base = live_server.url
    _login(page, base, "olive")
    page.goto(f"{base}/olive/painter/upload/main")
    page.get_by_test_id("upload-files").set_input_files(str(big))
    started = time.monotonic()
    page.click("button:has-text('Commit changes')")
    page.wait_for_url(f"{base}/olive/painter/tree/main", timeout=300_000)
    seconds = time.monotonic() - started
    print(f"256 MiB from the browser: {seconds:.1f} s, {256 / seconds:.0f} MiB/s (hash, upload, verify, commit)")
    assert _files(Repo.objects.get())["big.safetensors"]["lfs"]["sha256"] == digest.hexdigest()


def test_a_new_try_after_a_long_outage_sends_only_the_missing_parts(page, live_server, settings):
    """A part that fails every retry fails the upload (nothing committed); the next try, with the
    same files, reuses the batch's signed URLs and sends only the parts that had not arrived."""
    settings.GATEHOUSE_LFS_CHUNK_SIZE = settings.GATEHOUSE_LFS_MULTIPART_THRESHOLD = CHUNK
    make_repo(UserFactory(username="olive"), "painter")
    base = live_server.url
    _login(page, base, "olive")
    puts: list[int] = []
    outage = {"on": True}

    def on_part(route):
        number = int(PART.search(route.request.url).group(1))
        puts.append(number)
        if number == 3 and outage["on"]:
            route.abort("connectionrefused")
        else:
            route.continue_()

    page.route(PART, on_part)
    batches = []
    page.on("request", lambda r: batches.append(r.url) if r.url.endswith("/info/lfs/objects/batch") else None)
    page.goto(f"{base}/olive/painter/upload/main")
    page.evaluate("document.querySelector('form[data-upload-form]').dataset.retryBaseMs = '5'")
    page.get_by_test_id("upload-files").set_input_files(
        [{"name": "weights.bin", "mimeType": "application/octet-stream", "buffer": WEIGHTS}]
    )
    page.click("button:has-text('Commit changes')")
    error = page.get_by_test_id("upload-error")
    error.wait_for(state="visible")
    assert "Part 3 of weights.bin" in error.inner_text() and "tried 8 times" in error.inner_text()
    assert puts == [1, 2] + [3] * 8
    assert set(_files(Repo.objects.get())) == {".gitattributes"}

    outage["on"] = False
    puts.clear()
    page.click("button:has-text('Commit changes')")
    page.wait_for_url(f"{base}/olive/painter/tree/main")
    assert puts == [3, 4, 5, 6] and len(batches) == 1
    assert _files(Repo.objects.get())["weights.bin"]["lfs"]["sha256"] == hashlib.sha256(WEIGHTS).hexdigest()
