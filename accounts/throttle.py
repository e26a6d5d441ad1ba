"""Sign-in throttles: password guessing is slowed down without letting anyone lock a user out.

Only failed logins count (an attempt is charged before the password is checked, so a refused
caller learns nothing about it, and given back when it succeeds). Three budgets per window of
GATEHOUSE_LOGIN_WINDOW_SECONDS:

- per address and account (GATEHOUSE_LOGIN_FAILURES_PER_ACCOUNT_IP): one guesser, one victim;
- per address (GATEHOUSE_LOGIN_FAILURES_PER_IP): one guesser trying many accounts;
- per account (GATEHOUSE_LOGIN_FAILURES_PER_ACCOUNT), charged only to addresses that have never
  signed in to that account: many guessers, one victim.

SECURITY: no budget is spent by the account's owner on an address they have signed in from, so
guessing from elsewhere, however hard, never locks them out; a guesser can at most slow down the
owner's first sign-in from a new address during an attack from many addresses. Sign-ups are
limited per address (GATEHOUSE_SIGNUPS_PER_IP per GATEHOUSE_SIGNUP_WINDOW_SECONDS).
Refusals are `RateLimited` (429 with the `RateLimit` headers of core.ratelimit).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache

from core import ratelimit
from core.errors import RateLimited

KNOWN_ADDRESS_SECONDS = 90 * 24 * 3600


def _account(username: str) -> str:
    """SECURITY: the account the login form will look up, whatever the spelling: the form
    normalises with NFKC ('ａｌｉｃｅ' is alice) and usernames are case-insensitive. Hashed so that
    any text makes a valid cache key."""
    name = unicodedata.normalize("NFKC", username).strip().casefold()
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _known_key(account: str, ip: str) -> str:
    return f"login-known:{account}:{ip}"


def _budgets(account: str, ip: str) -> list[tuple[str, str, int]]:
    budgets = [
        ("login-account-ip", f"{account}:{ip}", settings.GATEHOUSE_LOGIN_FAILURES_PER_ACCOUNT_IP),
        ("login-ip", ip, settings.GATEHOUSE_LOGIN_FAILURES_PER_IP),
    ]
    if not cache.get(_known_key(account, ip)):
        budgets.append(("login-account", account, settings.GATEHOUSE_LOGIN_FAILURES_PER_ACCOUNT))
    return budgets


@contextmanager
def login_attempt(*, ip: str, username: str) -> Iterator[LoginAttempt]:
    """Charge one attempt to every budget (RateLimited if one is spent, before any password is
    checked); the caller marks it `succeeded()`, which gives the charges back."""
    account = _account(username)
    window = settings.GATEHOUSE_LOGIN_WINDOW_SECONDS
    charged: list[tuple[str, str]] = []
    try:
        for bucket, key, limit in _budgets(account, ip):
            ratelimit.charge(bucket=bucket, key=key, amount=1, limit=limit, window=window, unit="failed sign-ins")
            charged.append((bucket, key))
    except RateLimited:
        for bucket, key in charged:
            ratelimit.refund(bucket=bucket, key=key, window=window)
        raise
    attempt = LoginAttempt()
    yield attempt
    if attempt.is_success:
        for bucket, key in charged:
            ratelimit.refund(bucket=bucket, key=key, window=window)
        cache.set(_known_key(account, ip), 1, timeout=KNOWN_ADDRESS_SECONDS)


class LoginAttempt:
    is_success = False

    def succeeded(self) -> None:
        self.is_success = True


def signup_attempt(*, ip: str) -> None:
    ratelimit.charge(
        bucket="signup-ip",
        key=ip,
        amount=1,
        limit=settings.GATEHOUSE_SIGNUPS_PER_IP,
        window=settings.GATEHOUSE_SIGNUP_WINDOW_SECONDS,
        unit="sign-up attempts",
    )


def password_reset_attempt(*, ip: str, email: str) -> bool:
    """Charge one password reset request: RateLimited past GATEHOUSE_PASSWORD_RESETS_PER_IP per
    address (one caller trying many addresses); False (send nothing) past
    GATEHOUSE_PASSWORD_RESETS_PER_ACCOUNT per email (many callers filling one mailbox), per
    GATEHOUSE_PASSWORD_RESET_WINDOW_SECONDS. SECURITY: the email's budget is charged whether or
    not an account has it, and spending it changes nothing in the answer: neither says who has
    an account."""
    window = settings.GATEHOUSE_PASSWORD_RESET_WINDOW_SECONDS
    unit = "password reset requests"
    limit_ip = settings.GATEHOUSE_PASSWORD_RESETS_PER_IP
    ratelimit.charge(bucket="reset-ip", key=ip, amount=1, limit=limit_ip, window=window, unit=unit)
    try:
        limit = settings.GATEHOUSE_PASSWORD_RESETS_PER_ACCOUNT
        ratelimit.charge(bucket="reset-account", key=_account(email), amount=1, limit=limit, window=window, unit=unit)
    except RateLimited:
        return False
    return True


def verification_mail_attempt(*, user_pk: int) -> None:
    """Verification mails one account may ask for (a new link, a changed email):
    GATEHOUSE_VERIFICATION_MAILS_PER_ACCOUNT per GATEHOUSE_VERIFICATION_MAIL_WINDOW_SECONDS.
    SECURITY: an account signed up with someone else's address cannot fill their mailbox."""
    ratelimit.charge(
        bucket="verify-mail",
        key=str(user_pk),
        amount=1,
        limit=settings.GATEHOUSE_VERIFICATION_MAILS_PER_ACCOUNT,
        window=settings.GATEHOUSE_VERIFICATION_MAIL_WINDOW_SECONDS,
        unit="verification mails",
    )
