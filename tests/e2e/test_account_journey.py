"""Browser: sign up, see that the account must verify its email, follow the emailed link, create a
repo; forget the password and set a new one by the emailed link."""

import re

import pytest

from accounts.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSPHRASE = "a-long-enough-passphrase"


@pytest.fixture
def mails_sent_at_once(settings, tmp_path):
    """The live server's outbox tasks run in its thread, at once (no worker process), and each
    mail goes through Django's file backend into a folder the test reads as a user reads their
    inbox (one list of message texts, oldest first)."""
    from config.celery import app

    folder = tmp_path / "mail"
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(folder)
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True

    def inbox() -> list[str]:
        files = sorted(folder.glob("*.log"), key=lambda path: path.stat().st_mtime_ns) if folder.exists() else []
        return [text for path in files for text in path.read_text().split("-" * 79) if text.strip()]

    yield inbox
    app.conf.task_always_eager = eager


def _to(message: str) -> str:
    return re.search(r"^To: (.+)$", message, re.MULTILINE).group(1).strip()


def _link(message: str, live_server) -> str:
    path = re.search(r"https?://[^/\s]+(/\S+)", message).group(1)
    return f"{live_server.url}{path}"


def test_verify_then_create_and_reset_the_password(page, live_server, mails_sent_at_once):
    inbox = mails_sent_at_once
    page.goto(f"{live_server.url}/signup")
    page.fill("input[name=username]", "dora")
    page.fill("input[name=email]", "dora@example.org")
    page.fill("input[name=password]", PASSPHRASE)
    page.click("button:has-text('Sign up')")
    page.wait_for_url(f"{live_server.url}/")
    assert "Verify your email address" in page.get_by_test_id("verify-banner").inner_text()

    page.goto(f"{live_server.url}/new")
    page.fill("input[name=name]", "first")
    page.click("button:has-text('Create')")
    assert "Verify your email address first" in page.content()
    assert [_to(message) for message in inbox()] == ["dora@example.org"]

    page.goto(_link(inbox()[0], live_server))
    page.wait_for_url(f"{live_server.url}/settings/account")
    assert "is verified" in page.content() and page.get_by_test_id("verify-banner").count() == 0
    page.goto(f"{live_server.url}/new")
    page.fill("input[name=name]", "first")
    page.click("button:has-text('Create')")
    page.wait_for_url(f"{live_server.url}/dora/first")

    page.click("button:has-text('Log out')")
    page.goto(f"{live_server.url}/login")
    page.click("text=Forgot your password?")
    page.fill("input[name=email]", "dora@example.org")
    page.click("button:has-text('Send me a link')")
    assert "If an account has this address" in page.get_by_test_id("reset-sent").inner_text()
    page.goto(_link(inbox()[1], live_server))
    page.fill("input[name=new_password1]", "a-brand-new-passphrase")
    page.fill("input[name=new_password2]", "a-brand-new-passphrase")
    page.click("button:has-text('Set my password')")
    assert page.get_by_test_id("reset-complete").is_visible()
    assert User.objects.get(username="dora").check_password("a-brand-new-passphrase")
