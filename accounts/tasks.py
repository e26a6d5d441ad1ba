from celery import shared_task

from accounts import mail


@shared_task(acks_late=True)
def account_mail_send_task(kind: str, user_pk: int, site: str, stamp: str) -> int:
    """A verification or password reset mail, written to the outbox by the request (run through
    `core.outbox.outbox_run`, which claims it and reruns it from the beat if it fails)."""
    return mail.account_mail_send(kind=kind, user_pk=user_pk, site=site, stamp=stamp)
