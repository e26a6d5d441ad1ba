"""Sending one webhook request without letting a URL reach what it should not (SSRF).

SECURITY: the host name is resolved once, every address it resolves to is checked, and the
connection goes to the checked address itself (urllib3 pool on the IP; the name travels in the
Host header and, for HTTPS, in SNI and the certificate check): a DNS answer that changes between
the check and the connection (rebinding) cannot take the request elsewhere. Redirects are never
followed (a 3xx is a failed attempt), so no second address is ever connected to. Loopback,
link-local, private-network, shared (CGNAT), reserved and other non-global addresses are refused
unless the operator allows them (GATEHOUSE_WEBHOOK_ALLOW_PRIVATE); multicast and unspecified
addresses are refused always.

Framework-free: plain Python over its arguments (the caller passes the settings)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3

MAX_URL_LENGTH = 2048
RESPONSE_READ_LIMIT = 4096  # the receiver's body is not kept; read this much at most
DEFAULT_PORTS = {"http": 80, "https": 443}


class Refused(Exception):
    """The URL may not be called (scheme, host or address); a delivery stops here for good."""


class Unresolved(Exception):
    """The name did not resolve now (a DNS outage is a failed attempt, retried, not a refusal)."""


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None
    error: str


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # the name (or literal address) of the URL, without brackets
    port: int
    path: str  # path and query

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def parse_url(url: str) -> Target:
    """The URL's parts, or Refused with a message fit for the user."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise Refused(f"The webhook URL must be an http(s) URL of at most {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise Refused("The webhook URL may not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"The webhook URL is not valid: {exc}.") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise Refused("The webhook URL must start with http:// or https://.")
    if parts.username is not None or parts.password is not None:
        raise Refused("The webhook URL may not carry credentials; use the webhook's secret.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise Refused("The webhook URL has no host.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=scheme, host=host, port=port or DEFAULT_PORTS[scheme], path=path)


def address_refusal(address: str, *, allow_private: bool) -> str | None:
    """What kind of address `address` is, when it may not be connected to (None when it may).
    It never names the address: a name's refusal must not tell its owner what it resolves to."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv6 address that carries an IPv4 one is judged by it: ::ffff:127.0.0.1 is 127.0.0.1,
        # and 6to4 (2002:7f00:1::) and Teredo reach the IPv4 address they embed through a relay
        # (Python's ipaddress calls 2002::/16 global).
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
        elif ip.teredo is not None:
            ip = ip.teredo[1]
    if ip.is_multicast or ip.is_unspecified:
        return "a multicast or unspecified address"
    site_local = isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local  # deprecated, yet routed inside
    if ip.is_global and not (ip.is_private or ip.is_reserved or ip.is_link_local or ip.is_loopback or site_local):
        return None
    if allow_private:
        return None
    return (
        "a loopback, link-local, private-network or reserved address "
        "(the operator may allow these: GATEHOUSE_WEBHOOK_ALLOW_PRIVATE)"
    )


def literal_refusal(url: str, *, allow_private: bool) -> str | None:
    """For URLs whose host is an address: why it is refused (checked when a webhook is saved;
    names are checked at every delivery, where it counts). Numeric forms that resolvers read as
    addresses (`2130706433`, `0x7f.1`, `127.1`) are addresses here too."""
    target = parse_url(url)
    try:
        address = str(ipaddress.ip_address(target.host))
    except ValueError:
        try:
            address = str(socket.getaddrinfo(target.host, None, flags=socket.AI_NUMERICHOST)[0][4][0])
        except (socket.gaierror, UnicodeError):
            return None  # a name
    refusal = address_refusal(address, allow_private=allow_private)
    return None if refusal is None else f"{target.host} is {refusal}"


def resolve(target: Target, *, allow_private: bool) -> str:
    """The one address to connect to. SECURITY: every address the name has must be allowed, so
    a name that mixes a public address with a private one is refused whichever would be used."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except UnicodeError as exc:
        raise Refused(f"The host {target.host!r} is not a valid name ({exc}).") from None
    except socket.gaierror as exc:
        raise Unresolved(f"The host {target.host!r} could not be resolved ({exc}).") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise Refused(f"The host {target.host!r} has no address.")
    for address in addresses:
        refusal = address_refusal(address, allow_private=allow_private)
        if refusal:
            raise Refused(f"Delivery to {target.host!r} refused: the name resolves to {refusal}.")
    return addresses[0].split("%", 1)[0]


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    allow_private: bool,
    ca_certs: str | None = None,
) -> Outcome:
    """POST `body` once. Raises Refused (a rule, not a failure of the receiver); returns the outcome.
    HTTPS receivers are checked against the system's CAs, or the bundle `ca_certs` names."""
    target = parse_url(url)
    try:
        address = resolve(target, allow_private=allow_private)
    except Unresolved as exc:
        return Outcome(ok=False, status=None, error=str(exc))
    request_headers = {**headers, "Host": target.host_header, "Content-Length": str(len(body))}
    pool: urllib3.HTTPConnectionPool
    budget = urllib3.Timeout(total=timeout, connect=timeout, read=timeout)
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            target.port,
            timeout=budget,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs,
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, timeout=budget, retries=False, maxsize=1)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers=request_headers,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            response.read(RESPONSE_READ_LIMIT)
        finally:
            response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        return Outcome(ok=False, status=None, error=_describe(exc))
    except OSError as exc:
        return Outcome(ok=False, status=None, error=f"connection failed: {exc}"[:500])
    finally:
        pool.close()
    status = response.status
    if 200 <= status < 300:
        return Outcome(ok=True, status=status, error="")
    if 300 <= status < 400:
        return Outcome(ok=False, status=status, error=f"HTTP {status}: redirects are not followed")
    return Outcome(ok=False, status=status, error=f"HTTP {status}")


def _describe(exc: Exception) -> str:
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return "timed out"
    reason = getattr(exc, "reason", None) or exc
    return f"connection failed: {reason}"[:500]
