"""No throttling of logins and sign-ups (issue 14): 30 wrong passwords, then the right one, all
went through. Guessing is now slowed per address and per account, and the account's owner is
never locked out by it."""

import pytest
from django.core.cache import cache
from django.test import Client

from tests.support.builders import PASSWORD

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.7"
VICTIM = "198.51.100.20"


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


def _login(client: Client, username: str, password: str, ip: str):
    return client.post("/login", {"username": username, "password": password}, REMOTE_ADDR=ip)


def _assert_throttled(response):
    assert response.status_code == 429
    assert response["RateLimit"].startswith('"api";r=0;t=')
    assert "q=" in response["RateLimit-Policy"] and int(response["Retry-After"]) > 0
    assert "Too many failed sign-ins" in response.content.decode()


def test_thirty_wrong_passwords_are_throttled_and_the_right_one_then_refused(alice):
    attacker = Client()
    statuses = [_login(attacker, "alice", f"guess-{n}", ATTACKER).status_code for n in range(30)]
    assert statuses[:10] == [200] * 10  # the form again, "wrong password"
    assert set(statuses[10:]) == {429}
    refused = _login(attacker, "alice", PASSWORD, ATTACKER)
    _assert_throttled(refused)
    assert "_auth_user_id" not in attacker.session  # the right password did not sign in


@pytest.mark.parametrize("spelling", ["ＡＬＩＣＥ", "𝐚lice", " Alice "])
def test_look_alike_spellings_of_the_name_share_the_accounts_budget(alice, spelling):
    """The login form normalises usernames (NFKC): each spelling is the same account, so it must
    not come with a fresh budget."""
    attacker = Client()
    for n in range(10):
        _login(attacker, "alice", f"guess-{n}", ATTACKER)
    _assert_throttled(_login(attacker, spelling, "guess-x", ATTACKER))


def test_the_victim_still_signs_in_from_another_address(alice):
    for n in range(30):
        _login(Client(), "alice", f"guess-{n}", ATTACKER)
    victim = Client()
    response = _login(victim, "alice", PASSWORD, VICTIM)
    assert response.status_code == 302 and victim.session["_auth_user_id"] == str(alice.pk)


def test_many_addresses_cannot_lock_the_owner_out_of_a_known_address(alice, settings):
    settings.GATEHOUSE_LOGIN_FAILURES_PER_ACCOUNT = 5
    assert _login(Client(), "alice", PASSWORD, VICTIM).status_code == 302  # the owner's usual address
    for n in range(20):  # a botnet: one guess per address
        _login(Client(), "alice", f"guess-{n}", f"192.0.2.{n + 1}")
    _assert_throttled(_login(Client(), "alice", "guess-x", "192.0.2.200"))  # new addresses: account budget spent
    assert _login(Client(), "alice", PASSWORD, VICTIM).status_code == 302


def test_one_address_spraying_many_accounts_is_throttled(db):
    statuses = [_login(Client(), f"user{n}", "guess", ATTACKER).status_code for n in range(31)]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429


def test_successful_sign_ins_cost_nothing(alice, settings):
    settings.GATEHOUSE_LOGIN_FAILURES_PER_ACCOUNT_IP = 3
    for _ in range(8):
        assert _login(Client(), "alice", PASSWORD, VICTIM).status_code == 302


def test_sign_ups_are_throttled_per_address(db, settings):
    statuses = []
    for n in range(settings.GATEHOUSE_SIGNUPS_PER_IP + 1):
        form = {"username": f"new{n}", "email": f"new{n}@example.org", "password": "a-long-password-1"}
        statuses.append(Client().post("/signup", form, REMOTE_ADDR=ATTACKER).status_code)
    assert statuses[:-1] == [302] * settings.GATEHOUSE_SIGNUPS_PER_IP
    assert statuses[-1] == 429
    form = {"username": "elsewhere", "email": "e@example.org", "password": "a-long-password-1"}
    assert Client().post("/signup", form, REMOTE_ADDR=VICTIM).status_code == 302


def test_the_client_address_behind_a_trusted_proxy(rf, settings):
    from core.http import client_ip

    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert client_ip(request) == "10.0.0.1"
    settings.GATEHOUSE_TRUSTED_PROXY_HOPS = 1
    assert client_ip(request) == "203.0.113.7"  # the spoofable left part is ignored
    v6 = rf.get("/", REMOTE_ADDR="2001:db8:1:2:3:4:5:6")
    settings.GATEHOUSE_TRUSTED_PROXY_HOPS = 0
    assert client_ip(v6) == "2001:db8:1:2::/64"
