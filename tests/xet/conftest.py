from urllib.parse import quote

import pytest

from registry import services
from tests.support import xet as xet_build
from tests.support.builders import token_for

CHUNK = 64 * 1024


class Cas:
    """The Xet routes, driven through Django's test client as hf_xet drives them."""

    def __init__(self, client):
        self.client = client

    def token(self, repo_id: str, hub_token: str | None, scope: str = "write", revision: str = "main"):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {hub_token}"} if hub_token else {}
        return self.client.get(f"/api/models/{repo_id}/xet-{scope}-token/{revision}", **headers)

    def write_token(self, repo_id: str, hub_token: str, *, create_pr: bool = False, revision: str = "main") -> str:
        if create_pr:
            response = self.client.get(
                f"/api/models/{repo_id}/xet-write-token/None?create_pr=1", HTTP_AUTHORIZATION=f"Bearer {hub_token}"
            )
        else:
            response = self.token(repo_id, hub_token, revision=quote(revision, safe=""))
        assert response.status_code == 200, response.content
        return response.json()["accessToken"]

    def post_xorb(self, token: str, xorb_hash: str, body: bytes, prefix: str = "default"):
        return self.client.generic(
            "POST", f"/cas/v1/xorbs/{prefix}/{xorb_hash}", body, HTTP_AUTHORIZATION=f"Bearer {token}"
        )

    def post_shard(self, token: str, body: bytes, version: str = "v1"):
        return self.client.generic("POST", f"/cas/{version}/shards", body, HTTP_AUTHORIZATION=f"Bearer {token}")

    def reconstruction(self, token: str, file_hash: str, byte_range: str | None = None, version: str = "v1"):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        if byte_range:
            headers["HTTP_RANGE"] = byte_range
        return self.client.get(f"/cas/{version}/reconstructions/{file_hash}", **headers)

    def upload(self, repo, user, data: bytes, *, create_pr: bool = False, version: str = "v1") -> tuple[str, str]:
        """Send `data` as one xorb and one shard with a write token for `repo`: (file hash, sha256)."""
        token = self.write_token(repo.repo_id, token_for(user), create_pr=create_pr)
        chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
        xorb_hash, body = xet_build.xorb(chunks)
        assert self.post_xorb(token, xorb_hash, body).status_code == 200
        file_hash, content, terms = xet_build.file_of({xorb_hash: chunks}, [(xorb_hash, 0, len(chunks))])
        sha256 = xet_build.sha256(content)
        response = self.post_shard(token, xet_build.shard([(file_hash, terms, sha256)]), version)
        assert response.status_code == 200, response.content
        return file_hash, sha256


@pytest.fixture
def cas(client):
    return Cas(client)


def commit_xet_file(repo, user, path: str, sha256: str, *, branch: str = "main"):
    operation = services.blob_stage_stored(repo=repo, path=path, sha256=sha256, proof_from=None)
    return services.commit_create(repo=repo, branch=branch, operations=[operation], summary=f"add {path}", author=user)
