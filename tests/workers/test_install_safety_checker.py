"""`manage.py install_safety_checker`: a tiny random-weight checker published on a live Gatehouse
is installed by the command (safetensors only, hashes checked, loaded once, recorded), and a
preview then succeeds with it; refused installs change nothing."""

import hashlib
import json
import pickle
import re

import pytest
from django.core.management import CommandError, call_command
from huggingface_hub import HfApi

from tests.support.builders import token_for
from tests.support.previews import request_preview, save_checker
from workers import worker
from workers.models import JobStatus, PreviewJob

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("preview_settings", "fresh_engine")]

# A pickle that would run code when loaded: the command must never fetch it.
PICKLE = pickle.dumps({"weights": [1, 2, 3]})


@pytest.fixture
def publisher(alice, live_server):
    """Publishes folders on the live server (with a fresh hf_xet client: tests/conftest.py)."""
    api = HfApi(endpoint=live_server.url, token=token_for(alice))

    def publish(name: str, folder, extra: dict[str, bytes] | None = None) -> str:
        api.create_repo(f"alice/{name}")
        for path, data in (extra or {}).items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(data)
        return api.upload_folder(repo_id=f"alice/{name}", folder_path=folder).oid

    yield publish


def _install(live_server, repo: str, revision: str, dest) -> None:
    call_command("install_safety_checker", endpoint=live_server.url, repo=repo, revision=revision, dest=str(dest))


def _publish_bad_checkers(publisher, good, tmp_path) -> tuple[str, str]:
    """A checker with pickle weights only, and one whose safetensors file is not one."""
    pickled = tmp_path / "pickled"
    for path in ("safety_checker/config.json", "feature_extractor/preprocessor_config.json"):
        (pickled / path).parent.mkdir(parents=True, exist_ok=True)
        (pickled / path).write_bytes((good / path).read_bytes())
    pickle_revision = publisher("pickled", pickled, {"safety_checker/pytorch_model.bin": PICKLE})
    broken = save_checker(tmp_path / "broken", flag_everything=False)
    (broken / "safety_checker/model.safetensors").write_bytes(b"\0" * 64)
    return pickle_revision, publisher("broken", broken)


def test_installed_from_gatehouse_then_a_preview_succeeds_refusals_change_nothing(
    client, alice, sd_repo, settings, live_server, publisher, tmp_path
):
    folder = save_checker(tmp_path / "published", flag_everything=False)
    revision = publisher("checker", folder, {"safety_checker/pytorch_model.bin": PICKLE})
    pickle_revision, broken_revision = _publish_bad_checkers(publisher, folder, tmp_path)
    dest = tmp_path / "installed" / "safety-checker"
    with pytest.raises(CommandError, match="could not be loaded"):
        _install(live_server, "alice/broken", broken_revision, dest)
    assert not dest.exists()
    _install(live_server, "alice/checker", revision, dest)

    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert files == [
        "feature_extractor/preprocessor_config.json",
        "installed.json",
        "safety_checker/config.json",
        "safety_checker/model.safetensors",
    ]
    record = json.loads((dest / "installed.json").read_text())
    assert (record["endpoint"], record["repo"], record["revision"]) == (live_server.url, "alice/checker", revision)
    assert record["installed_at"].endswith("Z")
    for item in record["files"]:
        data = (dest / item["path"]).read_bytes()
        published = (folder / item["path"]).read_bytes()
        assert item["sha256"] == hashlib.sha256(data).hexdigest() == hashlib.sha256(published).hexdigest()
        assert item["size"] == len(data)

    before = (dest / "installed.json").read_bytes()
    cases = {
        ("alice/pickled", pickle_revision): "no safetensors weights (it has only safety_checker/pytorch_model.bin)",
        ("alice/broken", broken_revision): "could not be loaded",
        ("alice/checker", "main"): "full 40-character commit id",
        ("alice/checker", "0" * 40): "refused alice/checker",
        ("alice/missing", revision): "refused alice/missing",
        ("../x", revision): "--repo must be a repo id",
    }
    for (repo, rev), message in cases.items():
        with pytest.raises(CommandError, match=re.escape(message)):
            _install(live_server, repo, rev, dest)
        assert (dest / "installed.json").read_bytes() == before, repo
    with pytest.raises(CommandError, match="Could not reach http://127.0.0.1:1"):
        call_command(
            "install_safety_checker", endpoint="http://127.0.0.1:1", repo="a/b", revision=revision, dest=str(dest)
        )
    with pytest.raises(CommandError, match="must be an http"):
        call_command("install_safety_checker", endpoint="file:///etc", revision=revision, dest=str(dest))
    with pytest.raises(CommandError, match="over the limit"):
        call_command(
            "install_safety_checker",
            endpoint=live_server.url,
            repo="alice/checker",
            revision=revision,
            dest=str(dest),
            max_bytes=100,
        )
    assert not list(dest.parent.glob(".*"))  # no staging or old folder left behind
    assert (dest / "installed.json").read_bytes() == before

    settings.GATEHOUSE_SAFETY_CHECKER_PATH = str(dest)
    data = request_preview(client, alice)
    worker.run_job(str(PreviewJob.objects.get(requests__pk=data["id"]).pk))
    job = PreviewJob.objects.get(requests__pk=data["id"])
    assert job.status == JobStatus.SUCCEEDED and job.result_sha256
