"""The SSRF rule of webhooks.transport, without a database: which addresses are refused, that
the address checked is the one connected to (one resolution, DNS rebinding), and URL parsing."""

from __future__ import annotations

import socket

import pytest

from webhooks import transport

REFUSED_BY_DEFAULT = [
    "127.0.0.1",
    "127.0.0.2",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # shared address space (CGNAT)
    "192.0.2.1",  # documentation
    "240.0.0.1",  # reserved
    "::1",
    "fe80::1",
    "fc00::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:169.254.169.254",
]
ALWAYS_REFUSED = ["0.0.0.0", "::", "224.0.0.1", "239.255.255.250", "ff02::1"]  # noqa: S104


@pytest.mark.parametrize("address", REFUSED_BY_DEFAULT + ALWAYS_REFUSED)
def test_non_global_addresses_are_refused_by_default(address):
    assert transport.address_refusal(address, allow_private=False)


@pytest.mark.parametrize("address", REFUSED_BY_DEFAULT)
def test_the_operator_may_allow_private_addresses(address):
    assert transport.address_refusal(address, allow_private=True) is None


@pytest.mark.parametrize("address", ALWAYS_REFUSED)
def test_multicast_and_unspecified_stay_refused(address):
    assert transport.address_refusal(address, allow_private=True)


@pytest.mark.parametrize(
    "address", ["2002:7f00:1::", "2002:a9fe:a9fe::", "2002:c0a8:101::1", "2001:0:4136:e378:8000:63bf:80ff:fffe"]
)
def test_ipv6_forms_that_embed_a_refused_ipv4_address_are_refused(address):
    """6to4 of 127.0.0.1, 169.254.169.254 and 192.168.1.1, and Teredo whose client is 127.0.0.1."""
    assert transport.address_refusal(address, allow_private=False)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2002:808:808::"])
def test_global_addresses_pass(address):
    assert transport.address_refusal(address, allow_private=False) is None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/",
        "file:///etc/passwd",
        "http://user:pw@example.org/",
        "http:///nohost",
        "http://example.org:99999/",
        "http://exa mple.org/",
        "http://example.org/\n",
        "x" * 3000,
        "",
    ],
)
def test_bad_urls_are_refused(url):
    with pytest.raises(transport.Refused):
        transport.parse_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://[::1]:8080/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0x7f.1/",
        "http://127.1/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[fec0::1]/",  # deprecated site-local, which Python calls global
    ],
)
def test_literal_addresses_are_refused_when_saved(url):
    """Decimal, hex and short forms too (found by an outsider attack: they passed at save time):
    they are read as the resolver reads them."""
    assert transport.literal_refusal(url, allow_private=False)
    with pytest.raises(transport.Refused):
        transport.resolve(transport.parse_url(url), allow_private=False)


def test_a_names_refusal_does_not_tell_what_it_resolves_to(monkeypatch):
    """Found by an outsider attack: the delivery log named the private address an internal name has."""
    _resolver(monkeypatch, {"intranet.example": ["10.20.30.40"]})
    with pytest.raises(transport.Refused) as refused:
        transport.resolve(transport.parse_url("http://intranet.example/"), allow_private=False)
    assert "10.20.30.40" not in str(refused.value) and "private-network" in str(refused.value)


def _resolver(monkeypatch, answers: dict[str, list[str]]):
    real = socket.getaddrinfo
    calls: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        calls.append(host)
        if host in answers:
            return [
                (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in answers[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


def test_a_name_is_resolved_once_and_its_checked_address_connected_to(monkeypatch, receiver):
    """If the connection resolved the name again, a rebinding DNS server could answer with
    another address after the check; here the name is asked for once and the request reaches
    the address checked, with the name in the Host header."""
    calls = _resolver(monkeypatch, {"hooks.example": ["127.0.0.2"]})
    outcome = transport.post(
        f"http://hooks.example:{receiver.port}/hook?x=1",
        b"{}",
        {"Content-Type": "application/json"},
        timeout=2,
        allow_private=True,
    )
    assert outcome.ok and outcome.status == 200
    assert calls.count("hooks.example") == 1
    [request] = receiver.requests
    assert request.headers["host"] == f"hooks.example:{receiver.port}" and request.path == "/hook?x=1"


def test_a_name_with_any_refused_address_is_refused(monkeypatch, receiver):
    _resolver(monkeypatch, {"mixed.example": ["8.8.8.8", "127.0.0.2"], "inside.example": ["10.0.0.5"]})
    for host in ("mixed.example", "inside.example"):
        with pytest.raises(transport.Refused, match="private-network"):
            transport.post(f"http://{host}:{receiver.port}/", b"{}", {}, timeout=2, allow_private=False)
    assert receiver.requests == []


def test_unresolvable_names_fail_the_attempt_and_are_retried(monkeypatch):
    """A DNS outage is the receiver's failure for this attempt (retried with backoff, counted
    towards disabling), not a refusal that ends the delivery at once."""

    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    outcome = transport.post("http://nowhere.example/", b"{}", {}, timeout=2, allow_private=False)
    assert not outcome.ok and outcome.status is None and "could not be resolved" in outcome.error


def test_https_receivers_are_checked_by_the_name_of_the_url_on_the_address_checked(monkeypatch, tls_receiver):
    """The connection goes to the checked address, and TLS still checks the URL's name: SNI and
    the certificate are for `hooks.example`, against the configured CA bundle."""
    receiver, ca_file = tls_receiver
    _resolver(monkeypatch, {"hooks.example": ["127.0.0.2"], "other.example": ["127.0.0.2"]})
    url = f"https://hooks.example:{receiver.port}/hook"
    outcome = transport.post(url, b"{}", {}, timeout=2, allow_private=True, ca_certs=ca_file)
    assert outcome.ok and receiver.requests[0].headers["host"] == f"hooks.example:{receiver.port}"
    # Without the CA (the system's store), and for a name the certificate does not carry: refused.
    untrusted = transport.post(url, b"{}", {}, timeout=2, allow_private=True)
    assert not untrusted.ok and "CERTIFICATE_VERIFY_FAILED" in untrusted.error
    wrong_name = f"https://other.example:{receiver.port}/hook"
    mismatch = transport.post(wrong_name, b"{}", {}, timeout=2, allow_private=True, ca_certs=ca_file)
    assert not mismatch.ok and "other.example" in mismatch.error
    assert len(receiver.requests) == 1
