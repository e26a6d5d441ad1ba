"""The one Range parser (core.byteranges): a single satisfiable range, or the whole file."""

import io

import pytest

from core.byteranges import BoundedFile, parse_range
from core.errors import RangeNotSatisfiable


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-9", 100, (0, 9)),
        ("bytes=10-", 100, (10, 99)),
        ("bytes=90-200", 100, (90, 99)),  # an end past the file is the file's end
        ("bytes=-10", 100, (90, 99)),  # a suffix
        ("bytes=-500", 100, (0, 99)),  # a suffix longer than the file is all of it
        (" bytes=0-0 ", 1, (0, 0)),
        ("bytes=0-" + "9" * 5000, 100, (0, 99)),  # thousands of digits: "past the end", no 500
    ],
)
def test_a_single_range_is_its_first_and_last_byte(header, size, expected):
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header", [None, "", "bytes=-", "bytes=0-1,5-6", "items=0-1", "bytes=a-b", "0-1"])
def test_no_range_or_one_we_may_ignore_serves_the_whole_file(header):
    assert parse_range(header, 100) is None


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=100-", 100), ("bytes=5-4", 100), ("bytes=-0", 100), ("bytes=-1", 0), ("bytes=" + "9" * 30 + "-", 100)],
)
def test_an_unsatisfiable_range_is_a_416_naming_the_size(header, size):
    with pytest.raises(RangeNotSatisfiable) as raised:
        parse_range(header, size)
    assert raised.value.headers["Content-Range"] == f"bytes */{size}"


def test_a_bounded_file_reads_exactly_its_range():
    bounded = BoundedFile(io.BytesIO(b"0123456789"), 2, 5)
    assert bounded.read(3) + bounded.read() + bounded.read() == b"23456"
