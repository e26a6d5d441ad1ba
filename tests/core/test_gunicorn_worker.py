"""What core.gunicorn_worker reads in its loop before a thread runs a request (the rest of the
worker is exercised under a real gunicorn in tests/security/test_slow_clients.py)."""

import pytest

from core.gunicorn_worker import BODY_IN_LOOP_MAX_BYTES, body_length_to_read_first

HEAD = b"POST /api/x HTTP/1.1\r\nHost: h"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (b"", 0),
        (b"\r\nContent-Length: 12", 12),
        (b"\r\ncontent-length:  0 ", 0),
        (b"\r\nContent-Length: %d" % BODY_IN_LOOP_MAX_BYTES, BODY_IN_LOOP_MAX_BYTES),
        (b"\r\nContent-Length: %d" % (BODY_IN_LOOP_MAX_BYTES + 1), None),  # an upload: a thread reads it
        (b"\r\nContent-Length: 12\r\nExpect: 100-continue", None),  # waits for gunicorn's 100 Continue
        (b"\r\nTransfer-Encoding: chunked", None),
        (b"\r\nContent-Length: 12\r\nContent-Length: 12", None),  # left to the parser to refuse
        (b"\r\nContent-Length: -1", None),
        (b"\r\nContent-Length: " + b"9" * 5000, None),  # no int() of 5000 digits
    ],
)
def test_body_length_to_read_first(headers, expected):
    assert body_length_to_read_first(HEAD + headers) == expected


def test_a_body_cut_short_on_purpose_is_one_warning_line():
    """A mirrored download whose fetch failed ends short of its Content-Length by raising
    ResponseCutShort: gunicorn's ERROR with a traceback becomes one WARNING line; other errors
    keep theirs."""
    import logging
    import sys

    from core.errors import ResponseCutShort
    from core.gunicorn_worker import _cut_short_one_line

    def record_of(exc: Exception) -> logging.LogRecord:
        try:
            raise exc
        except Exception:
            return logging.LogRecord(
                "gunicorn.error", logging.ERROR, __file__, 1, "Error handling request", (), sys.exc_info()
            )

    cut = record_of(ResponseCutShort("The fetch from the upstream hub failed."))
    assert _cut_short_one_line(cut)
    assert (cut.levelname, cut.exc_info) == ("WARNING", None)
    assert cut.getMessage() == "Response cut short: The fetch from the upstream hub failed."
    other = record_of(ValueError("a bug"))
    assert _cut_short_one_line(other)
    assert other.levelname == "ERROR" and other.exc_info is not None
