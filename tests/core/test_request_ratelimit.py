"""Rate limits on the API and downloads, per address and per token, with the Hub's RateLimit
headers (core.middleware.RateLimitMiddleware; issue 20). Small limits through settings."""

import pytest
from django.core.cache import cache
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import parse_ratelimit_headers

from registry.models import Repo
from tests.support.builders import make_repo, token_for

pytestmark = pytest.mark.django_db

GENEROUS = 1000


@pytest.fixture
def limits(settings):
    """Fresh counters, and every limit generous until a test lowers one."""
    cache.clear()
    settings.GATEHOUSE_RATELIMIT_WINDOW_SECONDS = 300
    for name in ("API_PER_IP", "API_PER_TOKEN", "RESOLVERS_PER_IP", "RESOLVERS_PER_TOKEN"):
        setattr(settings, f"GATEHOUSE_RATELIMIT_{name}", GENEROUS)
    yield settings
    cache.clear()


@pytest.mark.parametrize("backend", ["configured", "locmem"])
def test_per_address_limit_counts_down_then_refuses_with_the_hubs_headers(client, alice, limits, backend):
    """On the configured cache (Redis in CI: one pipelined round trip) and on another (counted
    budget by budget, as the file cache of `make run` is)."""
    if backend == "locmem":
        limits.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    make_repo(alice, "m", {"config.json": b"{}"})
    limits.GATEHOUSE_RATELIMIT_API_PER_IP = 3
    left = []
    for _ in range(3):
        response = client.get("/api/models/alice/m")
        assert response.status_code == 200
        info = parse_ratelimit_headers(response.headers)
        assert info is not None and info.resource_type == "api" and info.limit == 3 and info.window_seconds == 300
        left.append(info.remaining)
    assert left == [2, 1, 0]
    refused = client.get("/api/models/alice/m")
    assert (refused.status_code, refused["X-Error-Code"]) == (429, "RateLimited")
    info = parse_ratelimit_headers(refused.headers)
    assert info.remaining == 0 and 0 < info.reset_in_seconds <= 300
    assert int(refused["Retry-After"]) == info.reset_in_seconds
    # Downloads are their own budget ("resolvers"), and portal pages are not limited.
    download = client.get("/alice/m/resolve/main/config.json")
    assert download.status_code == 200 and parse_ratelimit_headers(download.headers).resource_type == "resolvers"
    assert client.get("/alice/m").status_code == 200


def test_per_token_limit_is_the_tokens_own(client, alice, bob, limits):
    make_repo(alice, "m", {"config.json": b'{"marker": "RATE-LIMITED-CONTENT"}'})
    limits.GATEHOUSE_RATELIMIT_RESOLVERS_PER_TOKEN = 2
    first, second = token_for(alice), token_for(bob)
    for _ in range(2):
        assert client.head("/alice/m/resolve/main/config.json", HTTP_AUTHORIZATION=f"Bearer {first}").status_code == 200
    refused = client.get("/alice/m/resolve/main/config.json", HTTP_AUTHORIZATION=f"Bearer {first}")
    assert refused.status_code == 429 and b"RATE-LIMITED-CONTENT" not in refused.content
    assert Repo.objects.get(name="m").downloads == 0  # the refused GET was not counted
    # Another token from the same address, and anonymous callers, have budgets of their own.
    assert client.get("/alice/m/resolve/main/config.json", HTTP_AUTHORIZATION=f"Bearer {second}").status_code == 200
    assert client.get("/alice/m/resolve/main/config.json").status_code == 200
    assert Repo.objects.get(name="m").downloads == 2


def test_a_made_up_token_still_spends_the_address(client, alice, limits):
    make_repo(alice, "m")
    limits.GATEHOUSE_RATELIMIT_API_PER_IP = 2
    for n in range(2):
        assert client.get("/api/models/alice/m", HTTP_AUTHORIZATION=f"Bearer gth_made_up_{n}").status_code == 401
    assert client.get("/api/models/alice/m", HTTP_AUTHORIZATION="Bearer gth_made_up_3").status_code == 429


def test_zero_turns_a_limit_off(client, alice, limits):
    make_repo(alice, "m")
    limits.GATEHOUSE_RATELIMIT_API_PER_IP = 0
    limits.GATEHOUSE_RATELIMIT_API_PER_TOKEN = 0
    response = client.get("/api/models/alice/m")
    assert response.status_code == 200 and "RateLimit" not in response.headers


@pytest.mark.django_db(transaction=True)
def test_the_real_client_reports_the_limit(hub, alice, limits):
    make_repo(alice, "m")
    limits.GATEHOUSE_RATELIMIT_API_PER_TOKEN = 2
    api = HfApi(token=token_for(alice))
    api.model_info("alice/m")
    api.model_info("alice/m")
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.model_info("alice/m")
    assert excinfo.value.response.status_code == 429
    assert "you have reached your 'api' rate limit" in str(excinfo.value)
    assert "0/2 requests remaining in current 300s window" in str(excinfo.value)
