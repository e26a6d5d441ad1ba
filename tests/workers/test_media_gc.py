"""gc_blobs sweeps the preview store: images no job names, once older than the grace period
(a worker killed between storing an image and recording it leaves one; issue 17)."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.core.management import call_command

from registry.ops.gc import collect_garbage
from tests.support.builders import make_repo
from tests.support.previews import preview_body
from workers.media import preview_store
from workers.models import PreviewJob

pytestmark = pytest.mark.django_db

GRACE = timedelta(days=1)


@pytest.fixture(autouse=True)
def own_preview_store(settings, tmp_path):
    settings.GATEHOUSE_PREVIEW_MEDIA_ROOT = tmp_path / "preview-media"
    settings.GATEHOUSE_STORAGE_URL = ""


def stored(data: bytes, *, old: bool) -> str:
    sha256 = preview_store().put_bytes(data)
    if old:
        os.utime(preview_store().path_for(sha256), (0, 0))  # type: ignore[attr-defined]
    return sha256


def finished_job(repo, sha256: str) -> PreviewJob:
    return PreviewJob.objects.create(
        repo=repo,
        commit_oid="0" * 40,
        request_key=sha256,
        batch_key="b",
        params=preview_body(),
        sld_preset="off",
        status="succeeded",
        attempts=2,
        result_sha256=sha256,
    )


def test_unreferenced_preview_images_go_after_the_grace_period_and_named_ones_stay(alice):
    repo = make_repo(alice, "tiny-sd", {"README.md": b"# m\n"})
    named = stored(b"\x89PNG the cell's image", old=True)
    finished_job(repo, named)
    orphan = stored(b"\x89PNG the killed attempt's image", old=True)
    young = stored(b"\x89PNG an image whose job is being finished", old=False)

    assert collect_garbage(grace=GRACE, dry_run=True).extra["unreferenced preview images"] == 1
    assert preview_store().exists(orphan)  # a dry run deletes nothing

    report = collect_garbage(grace=GRACE)

    assert report.extra["unreferenced preview images"] == 1
    assert not preview_store().exists(orphan)
    assert preview_store().exists(named) and preview_store().exists(young)
    call_command("gc_blobs", "--grace-seconds", str(int(GRACE.total_seconds())))  # idempotent
    assert sorted(name for name, _, _ in preview_store().iter_objects()) == sorted([named, young])


def test_an_old_image_stored_again_counts_from_the_new_write(alice):
    """A rerun that renders the bytes of an old unreferenced image stores nothing new: the write
    refreshes the image's age, so a sweep before its job is recorded leaves it."""
    orphan = stored(b"\x89PNG same bytes rendered again", old=True)

    assert stored(b"\x89PNG same bytes rendered again", old=False) == orphan

    assert collect_garbage(grace=GRACE).extra["unreferenced preview images"] == 0
    assert preview_store().exists(orphan)
