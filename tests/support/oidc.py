"""Fixtures for the SSO tests: the test OpenID Connect provider (tests/support/oidc_provider) as
its own process, started once per test session on a free loopback port, and Gatehouse settings
pointing at it."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "gatehouse-tests"
PROVIDER_PASSWORD = "provider-pass-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class OidcProvider:
    url: str
    client_id: str
    client_secret: str
    control_secret: str
    # The provider's ID token signing key: tests sign tokens it would never issue with it.
    key_path: Path

    @property
    def issuer(self) -> str:
        return f"{self.url}/o"

    def set_user(
        self,
        username: str,
        *,
        password: str = PROVIDER_PASSWORD,
        email: str = "",
        email_verified: bool = False,
        groups: list[str] | None = None,
        sub: str = "",
    ) -> str:
        """Create or update a user at the provider; returns the `sub` it will send."""
        body = {
            "username": username,
            "password": password,
            "email": email,
            "email_verified": email_verified,
            "groups": groups or [],
            "sub": sub,
        }
        request = urllib.request.Request(  # noqa: S310 - the loopback test provider
            f"{self.url}/test/users",
            data=json.dumps(body).encode(),
            headers={"X-Control-Secret": self.control_secret, "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())["sub"]


def _wait_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the test OIDC provider exited: {log.read_text()[-2000:]}")
        try:
            discovery = f"{url}/o/.well-known/openid-configuration"
            with urllib.request.urlopen(discovery, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the test OIDC provider did not start: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    """One provider process per test session; Gatehouse's callback on the live server is its
    only registered redirect URI."""
    folder = tmp_path_factory.mktemp("oidc-provider")
    port = _free_port()
    provider = OidcProvider(
        url=f"http://127.0.0.1:{port}",
        client_id=CLIENT_ID,
        client_secret=secrets.token_urlsafe(24),
        control_secret=secrets.token_urlsafe(24),
        key_path=folder / "data" / "signing-key.pem",
    )
    live_server = os.environ["DJANGO_LIVE_TEST_SERVER_ADDRESS"]
    log = folder / "provider.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.oidc_provider",
                "--dir",
                str(folder / "data"),
                "--port",
                str(port),
                # `--name=value`: a random secret may start with "-", which argparse would take
                # for an option of its own.
                f"--client-id={provider.client_id}",
                f"--client-secret={provider.client_secret}",
                f"--redirect-uri=http://{live_server}/sso/callback",
                f"--control-secret={provider.control_secret}",
            ],
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        )
    try:
        _wait_ready(provider.url, process, log)
        yield provider
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


GROUP_ROLES = {"ml-engineers": "acme:write", "ml-leads": ["acme:admin", "research:read"]}


@pytest.fixture
def sso_settings(settings, oidc_provider):
    """Gatehouse configured for the test provider, with a group map over `acme` and `research`."""
    from accounts.sso import config

    settings.GATEHOUSE_OIDC_ISSUER = oidc_provider.issuer
    settings.GATEHOUSE_OIDC_CLIENT_ID = oidc_provider.client_id
    settings.GATEHOUSE_OIDC_CLIENT_SECRET = oidc_provider.client_secret
    settings.GATEHOUSE_OIDC_PROVIDER_NAME = "Test IdP"
    settings.GATEHOUSE_OIDC_GROUP_ROLES = json.dumps(GROUP_ROLES)
    config.forget_discovery()
    yield settings
    config.forget_discovery()
