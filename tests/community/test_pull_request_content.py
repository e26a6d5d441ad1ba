"""Pull requests cannot become a side door to content the repo keeps closed.

- A contributor without write access cannot commit, by its sha256, a large file they did not
  upload: the repo's withheld weights (or an older revision's) copied to a path of their own
  pull request would otherwise download from there. Writers still may (moving a file).
- The diff of a pull request shows file content, so on a repo whose license asks for
  acknowledgment it is shown only after the caller accepted the license.
"""

import hashlib
import json

import pytest
from django.test import Client

from community import services as community_services
from community.models import Discussion
from core.errors import BadRequest
from gating import release
from licenses import services as license_services
from licenses.selectors import license_at
from registry import services as registry_services
from registry.models import Ref
from registry.selectors import resolve_revision
from tests.community.helpers import push
from tests.licenses.conftest import LICENSE_V1, RAIL_CARD
from tests.support.builders import make_repo, token_for

pytestmark = pytest.mark.django_db

WEIGHTS = b"\x00secret weights\x00" * 64


def _commit(client: Client, token: str, path: str, sha256: str, *, create_pr: bool, revision: str = "main"):
    body = "\n".join(
        json.dumps(line)
        for line in (
            {"key": "header", "value": {"summary": "copy"}},
            {"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": sha256, "size": len(WEIGHTS)}},
        )
    )
    query = "?create_pr=1" if create_pr else ""
    return client.post(
        f"/api/models/alice/staged/commit/{revision}{query}",
        body,
        content_type="application/x-ndjson",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


@pytest.fixture
def staged(alice):
    """alice/staged: public, with its weights withheld by the current release stage."""
    repo = make_repo(alice, "staged", {"config.json": b"{}", "model.safetensors": WEIGHTS})
    release.release_plan_set(
        repo=repo, actor=alice, stages=[release.StageSpec(mode="public", withheld_patterns=("*.safetensors",))]
    )
    return repo


def test_contributor_cannot_copy_withheld_weights_into_a_pull_request(client, staged, alice, bob):
    before = resolve_revision(staged, "main")
    sha256 = hashlib.sha256(WEIGHTS).hexdigest()
    bob_token = token_for(bob)
    withheld = client.get("/alice/staged/resolve/main/model.safetensors", HTTP_AUTHORIZATION=f"Bearer {bob_token}")
    assert withheld.status_code == 403

    response = _commit(client, bob_token, "copy.bin", sha256, create_pr=True)

    assert response.status_code == 400, response.content
    assert "not uploaded by you" in response.json()["error"]
    assert not Discussion.objects.filter(repo=staged).exists()
    assert not Ref.objects.filter(repo=staged, name__startswith="refs/pr/").exists()
    # Not into an existing pull request of theirs either.
    pull = community_services.pull_request_open(repo=staged, author=bob, title="Tweak", description="")
    into_pull = pull.ref_name.replace("/", "%2F")
    response = _commit(client, bob_token, "copy.bin", sha256, create_pr=False, revision=into_pull)
    assert response.status_code == 400, response.content
    assert resolve_revision(staged, pull.ref_name).tree_oid == before.tree_oid
    # The owner may still commit content the repo holds under another name.
    assert _commit(client, token_for(alice), "copy.safetensors", sha256, create_pr=False).status_code == 200


def test_staging_stored_content_always_names_whose_upload_proves_possession(staged, bob):
    """No caller can forget the proof: leaving `proof_from` out is an error, not "no proof"."""
    sha256 = hashlib.sha256(WEIGHTS).hexdigest()
    with pytest.raises(TypeError, match="proof_from"):
        registry_services.blob_stage_stored(repo=staged, path="copy.bin", sha256=sha256)  # type: ignore[call-arg]
    with pytest.raises(BadRequest, match="not uploaded by you"):
        registry_services.blob_stage_stored(repo=staged, path="copy.bin", sha256=sha256, proof_from=bob)
    # The same refusal for content the repo does not hold: opening a pull request tells nobody
    # which hashes a repo holds.
    missing = hashlib.sha256(b"never uploaded anywhere").hexdigest()
    with pytest.raises(BadRequest, match="not uploaded by you"):
        registry_services.blob_stage_stored(repo=staged, path="copy.bin", sha256=missing, proof_from=bob)
    assert registry_services.blob_stage_stored(repo=staged, path="copy.bin", sha256=sha256, proof_from=None).is_lfs


def test_pull_request_diff_needs_the_license_acknowledgment(client, alice, bob):
    repo = make_repo(alice, "rail", {"README.md": RAIL_CARD, "LICENSE": LICENSE_V1, "notes.txt": b"secret one\n"})
    pull = community_services.pull_request_open(repo=repo, author=alice, title="Notes", description="")
    push(repo, pull, {"notes.txt": b"secret two\n"}, author=alice)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token_for(bob)}"}

    details = client.get(f"/api/models/alice/rail/discussions/{pull.num}?diff=1", **auth).json()
    page = client.get(f"/alice/rail/discussions/{pull.num}/files", **auth)
    assert "diff" not in details and b"secret" not in page.content

    version = license_at(repo, resolve_revision(repo, "main")).version
    license_services.acknowledgment_record(user=bob, repo=repo, version=version)
    details = client.get(f"/api/models/alice/rail/discussions/{pull.num}?diff=1", **auth).json()
    assert "+secret two" in details["diff"]
    assert b"secret two" in client.get(f"/alice/rail/discussions/{pull.num}/files", **auth).content
