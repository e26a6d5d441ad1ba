"""Upstream configuration, token encryption and the mirror's routes (no upstream needed)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import URLPattern, get_resolver

from core.errors import HubError
from mirror import config, credentials, crypto, services, views
from mirror.models import UpstreamCredential
from tests.support.builders import UserFactory

UPSTREAM = {"name": "hf", "endpoint": "https://hub.example.org", "namespaces": ["Google"]}


def test_a_namespace_is_routed_to_one_upstream(settings):
    settings.GATEHOUSE_UPSTREAMS = [
        UPSTREAM,
        {**UPSTREAM, "name": "other", "namespaces": ["meta"], "legacy_ids": ["gpt2"]},
    ]
    assert config.upstream_for_namespace("GOOGLE").name == "hf"
    assert config.upstream_for_namespace("alice") is None
    assert config.upstream_for_legacy_id("GPT2").name == "other" and config.upstream_for_namespace("gpt2") is None
    settings.GATEHOUSE_UPSTREAMS = [UPSTREAM, {**UPSTREAM, "name": "other", "namespaces": [], "legacy_ids": ["google"]}]
    with pytest.raises(ImproperlyConfigured):  # a legacy id takes the path segment a namespace does
        config.upstreams()
    settings.GATEHOUSE_UPSTREAMS = [UPSTREAM, {**UPSTREAM, "name": "other"}]
    with pytest.raises(ImproperlyConfigured):
        config.upstreams()
    for bad in ({**UPSTREAM, "namespaces": ["api"]}, {**UPSTREAM, "endpoint": "ftp://x"}, {**UPSTREAM, "endpoint": ""}):
        settings.GATEHOUSE_UPSTREAMS = [bad]
        with pytest.raises(ImproperlyConfigured):
            config.upstreams()


def test_a_bad_configuration_fails_the_system_check(settings):
    from django.core import checks

    settings.GATEHOUSE_UPSTREAM_TOKEN_KEYS = [Fernet.generate_key().decode()]
    settings.GATEHOUSE_UPSTREAMS = [{**UPSTREAM, "namespaces": ["api"]}]
    assert [error.id for error in checks.run_checks() if error.id.startswith("mirror")] == ["mirror.E001"]
    settings.GATEHOUSE_UPSTREAMS = [UPSTREAM]
    assert not [error for error in checks.run_checks() if error.id.startswith("mirror")]


def test_rules():
    upstream = config._parse({**UPSTREAM, "licenses_deny": ["CC-BY-NC-4.0"], "repos_deny": ["google/private-*"]})
    assert upstream.license_refusal(["cc-by-nc-4.0"])
    assert upstream.license_refusal(["apache-2.0"]) is None
    assert upstream.repo_rule_refusal("Google/Private-x")
    assert upstream.repo_rule_refusal("google/gemma") is None
    allow = config._parse({**UPSTREAM, "licenses_allow": ["apache-2.0", "mit"], "repos_allow": ["google/gemma*"]})
    assert allow.license_refusal([]) and allow.license_refusal(["apache-2.0", "gpl-3.0"])
    assert allow.license_refusal(["mit"]) is None
    assert allow.repo_rule_refusal("google/t5") and allow.repo_rule_refusal("google/gemma-2b") is None
    assert views.licenses_of({"cardData": {"license": "mit"}, "tags": ["license:x"]}) == ["mit"]
    assert views.licenses_of({"tags": ["license:apache-2.0", "text"]}) == ["apache-2.0"]


@pytest.mark.django_db
def test_tokens_are_encrypted_with_keys_of_their_own_and_rotate(settings, capsys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.GATEHOUSE_UPSTREAMS = [UPSTREAM]
    settings.GATEHOUSE_UPSTREAM_TOKEN_KEYS = [old]
    user = UserFactory()
    upstream = config.upstream_named("hf")
    services.credential_set(user=user, upstream=upstream, token="hf_secret-token")
    row = UpstreamCredential.objects.get(user=user)
    assert "hf_secret-token" not in row.ciphertext
    assert Fernet(old).decrypt(row.ciphertext.encode()) == b"hf_secret-token"

    settings.GATEHOUSE_UPSTREAM_TOKEN_KEYS = [new, old]
    call_command("mirror_rotate_tokens")
    assert "1 upstream token(s) re-encrypted" in capsys.readouterr().out
    settings.GATEHOUSE_UPSTREAM_TOKEN_KEYS = [new]
    from gating.policy import Principal

    assert credentials.credential_for(Principal(user=user), upstream).token == "hf_secret-token"
    settings.GATEHOUSE_UPSTREAM_TOKEN_KEYS = [Fernet.generate_key().decode()]  # a key dropped too early
    assert credentials.credential_for(Principal(user=user), upstream).is_anonymous
    assert crypto.decrypt(UpstreamCredential.objects.get(user=user).ciphertext) is None


def test_every_mirror_route_goes_through_the_mirror_policy_base():
    """The mirror's URLconf (set per request for mirrored namespaces) has no route that skips
    `MirrorView`, whose dispatch calls gating.policy.check_mirrored before any handler."""
    patterns = [*get_resolver("mirror.urls").url_patterns, *get_resolver("mirror.legacy_urls").url_patterns]
    assert len(patterns) == 30
    for pattern in patterns:
        assert isinstance(pattern, URLPattern)
        view_class = pattern.callback.view_class
        if pattern.name == "namespace":
            assert view_class is views.MirrorNamespaceView  # answers 404 or the read-only refusal, nothing else
            continue
        assert issubclass(view_class, views.MirrorView), pattern.name
        assert "dispatch" not in vars(view_class) or view_class is views.MirrorView, pattern.name


@pytest.mark.django_db
def test_local_holders_of_a_mirrored_name_fail_the_database_check(settings):
    """Found by a review: an account or repo already holding a name later configured as mirrored
    vanished behind the mirror, while some routes still reached it."""
    from django.core import checks

    UserFactory(username="Google")
    settings.GATEHOUSE_UPSTREAM_TOKEN_KEYS = [Fernet.generate_key().decode()]
    settings.GATEHOUSE_UPSTREAMS = [UPSTREAM]
    found = [error.id for error in checks.run_checks(databases=["default"]) if error.id.startswith("mirror")]
    assert found == ["mirror.E002"]
    assert not [error for error in checks.run_checks() if error.id.startswith("mirror")]  # a database check


def test_only_the_clients_own_query_parameters_are_cached():
    """Found by a review: `?junk=1`, `?junk=2`... each made a cache entry kept a week."""
    from mirror.upstream_cache import _cacheable

    assert _cacheable("/api/models/g/m/tree/main?recursive=1&expand=1&cursor=abc", None)
    assert _cacheable("/api/models/g/m", None)
    assert not _cacheable("/api/models/g/m?junk=1", None)
    assert not _cacheable("/api/models/g/m?cursor=" + "x" * 2000, None)
    assert _cacheable("/api/models/g/m/paths-info/main", b"paths=a")
    assert not _cacheable("/api/models/g/m/paths-info/main", b"paths=" + b"a" * 5000)


def test_an_unset_token_key_fails_the_check_where_hosts_can_share_the_database(settings, tmp_path):
    """A key generated per host encrypted tokens no other host could read (found by the issue's
    review): with PostgreSQL (the tests' database) an unset key is mirror.E003, a malformed one
    mirror.E004; without upstreams nothing is asked."""
    from django.core import checks

    def mirror_errors() -> list[str]:
        return [error.id for error in checks.run_checks() if error.id.startswith("mirror")]

    settings.VAR_DIR = tmp_path
    settings.GATEHOUSE_UPSTREAMS = []
    settings.GATEHOUSE_UPSTREAM_TOKEN_KEYS = []
    assert mirror_errors() == []
    settings.GATEHOUSE_UPSTREAMS = [UPSTREAM]
    assert mirror_errors() == ["mirror.E003"]
    with pytest.raises(HubError) as refused:  # a typed 503, and no key of this host's own is made meanwhile
        crypto.encrypt("hf_token")
    assert (refused.value.status, refused.value.code) == (503, "MirrorNotConfigured")
    assert not list(tmp_path.iterdir())
    settings.GATEHOUSE_UPSTREAM_TOKEN_KEYS = ["not-a-key"]
    assert mirror_errors() == ["mirror.E004"]
    settings.GATEHOUSE_UPSTREAM_TOKEN_KEYS = [Fernet.generate_key().decode()]
    assert mirror_errors() == []


def test_the_embedded_default_generates_one_private_key_and_check_deploy_refuses_it(tmp_path):
    """`make run` (SQLite, one host) may generate the key into its var dir; `check --deploy`
    of the same settings says to set one (mirror.E003)."""
    import json
    import os
    import stat
    import subprocess
    import sys

    from tests.test_deploy_config import PRODUCTION, ROOT_DIR

    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(
        PRODUCTION,
        GATEHOUSE_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
        GATEHOUSE_UPSTREAMS=json.dumps([UPSTREAM]),
        GATEHOUSE_UPSTREAM_TOKEN_KEYS="",
    )
    # One process (each costs a Django start): the plain checks, the deploy checks, the key.
    script = (
        "from mirror import crypto; from django.core import checks; "
        "ids = lambda found: ','.join(e.id for e in found if e.id.startswith('mirror')) or '-'; "
        "plain, deployed = ids(checks.run_checks()), ids(checks.run_checks(include_deployment_checks=True)); "
        "a = crypto.decrypt(crypto.encrypt('hf_x')); b = crypto._generated_key(); "
        "print(plain, deployed, a, b == crypto._generated_key())"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT_DIR, env=env, capture_output=True, text=True
    )
    assert result.stdout.strip().splitlines()[-1].split() == ["-", "mirror.E003", "hf_x", "True"], result.stderr
    key_file = tmp_path / crypto.KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    Fernet(key_file.read_text().strip().encode())  # a valid key
    assert not list(tmp_path.glob("*.tmp"))


def test_a_read_timeout_past_the_fetch_lease_fails_the_check(settings):
    """Found by the recheck of issue 21: a read may block for the whole read timeout between two
    renewals, so a timeout near the lease would lapse live fetches on a quiet upstream."""
    from django.core import checks

    def mirror_errors() -> list[str]:
        return [error.id for error in checks.run_checks() if error.id == "mirror.E005"]

    assert mirror_errors() == []  # the defaults: 30 s reads, a 60 s lease renewed every 15 s
    settings.GATEHOUSE_MIRROR_READ_TIMEOUT = 45
    assert mirror_errors() == ["mirror.E005"]
