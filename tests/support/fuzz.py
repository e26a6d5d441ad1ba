"""Hypothesis strategies for the parser fuzz tests (tests/security/test_fuzz_parsers.py).

Each strategy is modelled on the real format (the ndjson commit body, the LFS batch request, Xet
xorbs and shards as /shared/reference/xet-server.md §2 lays them out, YAML card front matter,
Range headers, revisions, cursors), then bent: wrong types, odd sizes, hostile paths, truncated or
shuffled records, numbers of thousands of digits, JSON nested past the recursion limit. Raw
bytes come on top of that in the tests themselves.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct

import lz4.frame
import yaml
from hypothesis import strategies as st

from xet import format

# -- shared pieces --------------------------------------------------------------------------------

ODD_INTS = st.sampled_from(
    [0, -1, 1, 255, 2**24, 2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**30, 10**400]
)
SIZES = st.one_of(ODD_INTS, st.integers(min_value=-(2**70), max_value=2**70), st.integers(0, 10_000))
# Text as JSON decodes it: lone surrogates ("\ud800") and NUL included.
TEXT = st.one_of(
    st.text(max_size=24),
    st.text(st.characters(exclude_categories=()), max_size=8),
    st.sampled_from(["", "\x00", "a\x00b", "\ud800", "\udfff", "\ud83d\ude00", "\ufeff", "\u202e"]),
)
SCALARS = st.one_of(st.none(), st.booleans(), SIZES, st.floats(allow_nan=False), TEXT)
# Built as Python values (json.dumps recurses, so these stay shallow); NESTED_JSON goes deep.
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
# JSON nested past the recursion limit (a few thousand levels), as bytes: json.dumps cannot make it.
NESTED_JSON = st.builds(
    lambda opening, depth: opening * depth + (b"]" if opening == b"[" else b"1}") * depth,
    st.sampled_from([b"[", b'{"a":']),
    st.sampled_from([10, 100, 1_000, 5_000, 50_000]),
)
HEX64 = st.binary(min_size=32, max_size=32).map(bytes.hex)
OIDS = st.one_of(
    HEX64,
    HEX64.map(str.upper),
    HEX64.map(lambda h: h[:63]),
    HEX64.map(lambda h: h + "0"),
    st.text(alphabet="0123456789abcdefg", min_size=60, max_size=66),
    ANY_JSON,
)

_SEGMENTS = st.one_of(
    st.sampled_from(
        [
            "config.json",
            "model.safetensors",
            "README.md",
            ".gitattributes",
            ".git",
            ".GIT",
            "git~1",
            ".cache",
            "..",
            ".",
            "",
            "a.",
            "a ",
            " a",
            "CON",
            "nul",
            "aux.txt",
            ".git::$INDEX_ALLOCATION",
            ".git:$DATA",
            "C:",
            "a\\b",
            "e\u0301",
            "\u00e9",
            "\u200b",
            "\x00",
            "\x1f",
            "\ud800",
            "%2F",
            "%00",
            "~",
            "*",
            "?",
            "refs",
            "pr",
            "heads",
            "main",
            "1",
            "x" * 256,
        ]
    ),
    TEXT,
)
PATHS = st.one_of(
    st.lists(_SEGMENTS, min_size=1, max_size=4).map("/".join),
    st.lists(_SEGMENTS, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts) + "/"),
    TEXT,
)

# -- revisions ------------------------------------------------------------------------------------

_REV_SEGMENTS = st.one_of(
    st.sampled_from(
        [
            "main",
            "refs",
            "pr",
            "heads",
            "tags",
            "convert",
            "parquet",
            "1",
            "0",
            "-1",
            "v1.0",
            "..",
            ".",
            "",
            "@{u}",
            "a.lock",
            "HEAD",
            "e\u0301",
            "\u00e9",
            "%2F",
            "%",
            "%ZZ",
            ";",
            "?",
            "#",
            "+",
            " ",
        ]
    ),
    HEX64.map(lambda h: h[:40]),
    TEXT,
)
REVISIONS = st.one_of(
    st.lists(_REV_SEGMENTS, min_size=1, max_size=5).map("/".join),
    st.builds(lambda n: f"refs/pr/{n}", SIZES),
    TEXT.filter(bool),
)

# -- commit ndjson --------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


_CONTENT = st.one_of(
    st.binary(max_size=64).map(_b64),
    st.just(_b64(b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 3\n")),
    st.binary(max_size=64).map(lambda b: _b64(b)[:-1]),  # broken padding
    st.text(max_size=20),
    ANY_JSON,
)
# Names the fuzzed repo holds (tests/security/test_fuzz_parsers.py's FILES), so that deletions and
# LFS references sometimes succeed and the commit goes on to the next line.
KNOWN_PATHS = st.sampled_from(["README.md", "config.json", "weights/model.safetensors", "sub/dir/a.txt", "sub"])
GOOD_PATHS = st.one_of(KNOWN_PATHS, st.sampled_from(["new.txt", "a/b/c.bin", "\u00e9t\u00e9.md", "x.safetensors"]))
KNOWN_LFS = (hashlib.sha256(bytes(range(256)) * 4).hexdigest(), 1024)


@st.composite
def mutated(draw, valid: dict, odd: dict) -> dict:
    """`valid`, with at times one field dropped or replaced by an odd value."""
    value = dict(valid)
    choice = draw(st.integers(0, 5))
    if choice == 1 and value:
        value.pop(draw(st.sampled_from(sorted(value))))
    elif choice == 2:
        name = draw(st.sampled_from(sorted(odd)))
        value[name] = draw(odd[name])
    return value


_ODD_FIELDS = {
    "path": st.one_of(PATHS, ANY_JSON),
    "content": _CONTENT,
    "encoding": st.one_of(st.sampled_from(["utf-8", "BASE64", ""]), ANY_JSON),
    "oid": OIDS,
    "size": st.one_of(SIZES, ANY_JSON),
    "algo": st.one_of(st.text(max_size=8), ANY_JSON),
}


@st.composite
def commit_operations(draw) -> dict:
    kind = draw(st.sampled_from(["file", "file", "lfsFile", "deletedFile", "deletedFolder", "odd"]))
    if kind == "file":
        value = {"path": draw(GOOD_PATHS), "content": _b64(draw(st.binary(max_size=64))), "encoding": "base64"}
    elif kind == "lfsFile":
        oid, size = KNOWN_LFS if draw(st.booleans()) else (draw(HEX64), draw(st.integers(0, 10_000)))
        value = {"path": draw(GOOD_PATHS), "algo": "sha256", "oid": oid, "size": size}
    elif kind in ("deletedFile", "deletedFolder"):
        value = {"path": draw(KNOWN_PATHS)}
    else:
        return {"key": draw(ANY_JSON), "value": draw(ANY_JSON)}
    key = kind if draw(st.integers(0, 7)) else draw(st.one_of(st.sampled_from(["header", "File", ""]), ANY_JSON))
    return {"key": key, "value": draw(mutated(value, _ODD_FIELDS)) if draw(st.booleans()) else value}


_HEADER_ODD = {
    "summary": st.one_of(TEXT, ANY_JSON),
    "description": st.one_of(TEXT, ANY_JSON),
    "parentCommit": st.one_of(st.none(), HEX64.map(lambda h: h[:40]), ANY_JSON),
}
COMMIT_HEADERS = (
    st.builds(lambda summary: {"summary": summary}, st.one_of(st.text(max_size=40), TEXT))
    .flatmap(lambda valid: mutated(valid, _HEADER_ODD))
    .map(lambda value: {"key": "header", "value": value})
)


@st.composite
def ndjson_bodies(draw) -> bytes:
    """A header line (usually first), operations, and the odd non-JSON or blank line."""
    lines: list[bytes] = []
    if draw(st.integers(0, 9)):
        lines.append(json.dumps(draw(COMMIT_HEADERS)).encode())
    for item in draw(st.lists(commit_operations(), max_size=4)):
        lines.append(json.dumps(item).encode())
    if draw(st.integers(0, 3)) == 0:
        index = draw(st.integers(0, len(lines)))
        odd = st.sampled_from([b"", b"   ", b"{", b"[]", b"null", b"\xff\xfe", b'{"key":'])
        lines.insert(index, draw(st.one_of(odd, NESTED_JSON)))
    return b"\n".join(lines) + draw(st.sampled_from([b"\n", b"", b"\r\n"]))


# -- paths-info -----------------------------------------------------------------------------------

PATHS_INFO_FORMS = st.lists(
    st.tuples(st.sampled_from(["paths", "paths", "expand", "other"]), st.one_of(PATHS, st.sampled_from(["1", "true"]))),
    max_size=6,
)
PATHS_INFO_JSON = st.one_of(
    st.fixed_dictionaries({}, optional={"paths": st.one_of(st.lists(PATHS, max_size=4), ANY_JSON), "expand": ANY_JSON}),
    ANY_JSON,
)

# -- Range ----------------------------------------------------------------------------------------

_DIGITS = st.one_of(
    st.just(""),
    st.integers(0, 2**70).map(str),
    st.text(alphabet="0123456789", max_size=40),
    st.integers(4000, 6000).map(lambda n: "9" * n),  # past Python's int() limit of 4,300 digits
    st.integers(1, 30).map(lambda n: "0" * 5000 + "1" * n),
)
RANGES = st.one_of(
    st.builds(lambda a, b: f"bytes={a}-{b}", _DIGITS, _DIGITS),
    st.builds(lambda a, b, c, d: f"bytes={a}-{b}, {c}-{d}", _DIGITS, _DIGITS, _DIGITS, _DIGITS),
    st.builds(
        lambda unit, a, b, pad: f"{pad}{unit}={a}-{b}{pad}",
        st.sampled_from(["bytes", "BYTES", "items", "", "bytes "]),
        st.one_of(_DIGITS, st.sampled_from(["-1", "+1", "0x10", "1e3", "\u0661"])),
        _DIGITS,
        st.sampled_from(["", " ", "\t"]),
    ),
    st.text(max_size=30),
)

# -- cursors and page numbers ---------------------------------------------------------------------


def _cursor_of(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


NUMBERS = st.one_of(
    st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, -1, 1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64]), SIZES
)
_CURSOR_VALUES = st.one_of(
    st.builds(lambda o: {"o": o}, NUMBERS),
    st.builds(
        lambda o: {"o": o},
        st.sampled_from(
            [float("inf"), float("-inf"), float("nan"), 1e9, 1e300, 1.5, -0.5, " 7", "9" * 5000, True, None, [], {}]
        ),
    ),
    st.builds(lambda o: {"o": o}, ANY_JSON),
    ANY_JSON,
)
CURSORS = st.one_of(
    _CURSOR_VALUES.map(lambda value: _cursor_of(json.dumps(value).encode())),
    st.binary(max_size=30).map(_cursor_of),
    st.text(max_size=30),
)
PAGE_NUMBERS = st.one_of(
    NUMBERS.map(str),
    st.integers(4000, 6000).map(lambda n: "9" * n),
    st.sampled_from(["", "-0", "1.5", "1e3", "nan", "inf", "\u0663"]),
    st.text(max_size=12),
)

# -- card YAML ------------------------------------------------------------------------------------

_YAML_ALPHABET = st.sampled_from(list("-:[]{}&*!|>'\"%@`#,? \n\tab01.") + ["\\0", "\\x00", "\\u0000", "~", "null"])
_CARD_KEYS = st.one_of(
    st.sampled_from(
        [
            "license",
            "license_name",
            "license_link",
            "tags",
            "pipeline_tag",
            "library_name",
            "base_model",
            "base_model_relation",
            "datasets",
            "language",
            "extra_gated_fields",
            "extra_gated_eu_disallowed",
            "widget",
            "model-index",
            "inference",
            "new_version",
            "thumbnail",
        ]
    ),
    st.text(max_size=10),
)
_CARD_DATA = st.dictionaries(_CARD_KEYS, ANY_JSON, max_size=5)
YAML_SNIPPETS = st.sampled_from(
    [
        "2020-01-01: x",
        "1: one\n2: two",
        "? [a, b]\n: c",
        "? {a: 1}\n: c",
        "a: !!binary aGVsbG8=",
        "a: !!timestamp 2001-12-14t21:59:43.10-05:00",
        "a: !!set {x, y}",
        "a: !!omap [x: 1, y: 2]",
        "a: !!python/object:os.system ls",
        "a: !!float .nan\nb: !!float .inf",
        'license: "a\\0b"',
        'tags: ["\\u0000"]',
        "a: &x [1, 2]\nb: *x",
        "a: *missing",
        "[1, 2]",
        "just text",
        "- a\n- b",
        "a:\n  - b\n - c",
        "\t- tab",
        "a: 'unclosed",
        "a: b: c",
        "%YAML 1.1\n---\na: 1",
        "a: 1\n...\nb: 2",
        "a: 1\n---\nb: 2",
        "a: " + "[" * 100 + "]" * 100,
        "a: &a [1, 2]\nb: &b [*a, *a]\nc: [*b, *b]",
        "a: " + "9" * 5000,
        "a: 2001-13-45",
    ]
)


@st.composite
def cards(draw) -> str:
    """README.md text: front matter (dumped, snippet or raw YAML-ish text) and a body."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        front = yaml.safe_dump(draw(_CARD_DATA), allow_unicode=draw(st.booleans()))
    elif kind == 1:
        front = draw(YAML_SNIPPETS)
    elif kind == 2:
        front = "\n".join(draw(st.lists(YAML_SNIPPETS, max_size=3)))
    else:
        front = "".join(draw(st.lists(_YAML_ALPHABET, max_size=40)))
    opening = draw(st.sampled_from(["---\n", "\ufeff---\n", "--- \r\n", "---", ""]))
    closing = draw(st.sampled_from(["\n---\n", "\r\n---\r\n", "\n---", "\n", ""]))
    return opening + front + closing + draw(st.text(max_size=20))


# -- LFS batch ------------------------------------------------------------------------------------

_LFS_OBJECT_ODD = {"oid": OIDS, "size": st.one_of(SIZES, ANY_JSON)}
_LFS_OBJECTS = st.one_of(
    st.builds(lambda oid, size: {"oid": oid, "size": size}, HEX64, st.integers(0, 2**40)).flatmap(
        lambda valid: mutated(valid, _LFS_OBJECT_ODD)
    ),
    st.just({"oid": KNOWN_LFS[0], "size": KNOWN_LFS[1]}),
    ANY_JSON,
)
_LFS_BATCH_ODD = {
    "operation": st.one_of(st.sampled_from(["download", "UPLOAD", ""]), ANY_JSON),
    "objects": ANY_JSON,
    "transfers": st.one_of(st.lists(st.sampled_from(["basic", "multipart", "ssh", ""]), max_size=3), ANY_JSON),
    "ref": st.one_of(st.fixed_dictionaries({"name": st.one_of(REVISIONS, ANY_JSON)}), ANY_JSON),
    "hash_algo": st.one_of(st.sampled_from(["sha256", "sha512"]), ANY_JSON),
}
LFS_BATCHES = st.one_of(
    st.builds(
        lambda objects, transfers: {"operation": "upload", "objects": objects, "transfers": transfers},
        st.lists(_LFS_OBJECTS, max_size=3),
        st.lists(st.sampled_from(["basic", "multipart"]), max_size=2),
    ).flatmap(lambda valid: mutated(valid, _LFS_BATCH_ODD)),
    ANY_JSON,
)
LFS_VERIFY = st.one_of(
    st.just({"oid": KNOWN_LFS[0], "size": KNOWN_LFS[1]}).flatmap(lambda valid: mutated(valid, _LFS_OBJECT_ODD)),
    ANY_JSON,
)

# -- Xet xorbs and shards -------------------------------------------------------------------------

_U24 = st.one_of(
    st.sampled_from([0, 1, format.MAX_CHUNK_UNCOMPRESSED, format.MAX_CHUNK_UNCOMPRESSED + 1, 2**24 - 1]),
    st.integers(0, 2**24 - 1),
    st.integers(0, 300),
)


@st.composite
def _xorb_chunk(draw) -> bytes:
    raw = draw(st.binary(min_size=1, max_size=200))
    scheme = draw(st.sampled_from([format.SCHEME_NONE, format.SCHEME_LZ4, format.SCHEME_BG4_LZ4, 3, 255]))
    data = lz4.frame.compress(raw) if scheme in (format.SCHEME_LZ4, format.SCHEME_BG4_LZ4) else raw
    if draw(st.integers(0, 4)) == 0:
        data = draw(st.binary(max_size=200))  # bytes unrelated to the header
    compressed_len = len(data) if draw(st.integers(0, 3)) else draw(_U24)
    size = len(raw) if draw(st.integers(0, 3)) else draw(_U24)
    version = 0 if draw(st.integers(0, 5)) else draw(st.integers(0, 255))
    header = struct.pack("<B3sB3s", version, compressed_len.to_bytes(3, "little"), scheme, size.to_bytes(3, "little"))
    return header + data


@st.composite
def xorb_bodies(draw) -> bytes:
    body = b"".join(draw(st.lists(_xorb_chunk(), max_size=4)))
    if draw(st.integers(0, 3)) == 0:
        footer = format.FOOTER_MAGIC + bytes([draw(st.sampled_from([1, 0, 2]))]) + draw(st.binary(max_size=60))
        body += footer
    if draw(st.integers(0, 5)) == 0:
        cut = draw(st.integers(0, len(body)))
        body = body[:cut]
    return body


def _record(data: bytes) -> bytes:
    return (data + bytes(48))[:48]


@st.composite
def _shard_file(draw) -> bytes:
    terms = draw(st.integers(0, 3))
    declared = terms if draw(st.integers(0, 3)) else draw(st.sampled_from([0, 1, 5, 1_000_001, 2**32 - 1]))
    flags = draw(
        st.sampled_from(
            [
                0,
                format.FLAG_VERIFICATION,
                format.FLAG_METADATA_EXT,
                format.FLAG_VERIFICATION | format.FLAG_METADATA_EXT,
                2**32 - 1,
            ]
        )
    )
    out = struct.pack("<32sII8x", draw(st.binary(min_size=32, max_size=32)), flags, declared)
    for _ in range(terms):
        out += struct.pack(
            "<32sIIII",
            draw(st.binary(min_size=32, max_size=32)),
            0,
            draw(st.integers(0, 2**32 - 1)),
            draw(st.integers(0, 2**32 - 1)),
            draw(st.integers(0, 2**32 - 1)),
        )
    if flags & format.FLAG_VERIFICATION:
        out += b"".join(_record(draw(st.binary(min_size=32, max_size=32))) for _ in range(terms))
    if flags & format.FLAG_METADATA_EXT:
        out += _record(hashlib.sha256(draw(st.binary(max_size=8))).digest())
    return out


@st.composite
def _shard_xorb(draw) -> bytes:
    chunks = draw(st.integers(0, 3))
    declared = chunks if draw(st.integers(0, 3)) else draw(st.sampled_from([0, 1, format.MAX_XORB_CHUNKS + 1]))
    out = struct.pack("<32sIIII", draw(st.binary(min_size=32, max_size=32)), 0, declared, 0, 0)
    for _ in range(chunks):
        out += struct.pack(
            "<32sII8x",
            draw(st.binary(min_size=32, max_size=32)),
            draw(st.integers(0, 2**32 - 1)),
            draw(st.integers(0, 2**32 - 1)),
        )
    return out


@st.composite
def shard_bodies(draw) -> bytes:
    tag = format.SHARD_TAG if draw(st.integers(0, 7)) else draw(st.binary(min_size=32, max_size=32))
    version = 2 if draw(st.integers(0, 7)) else draw(st.sampled_from([0, 1, 3, 2**64 - 1]))
    files = b"".join(draw(st.lists(_shard_file(), max_size=3)))
    xorbs = b"".join(draw(st.lists(_shard_xorb(), max_size=2)))
    trailer = draw(st.binary(max_size=8)) if draw(st.integers(0, 5)) == 0 else b""
    footer_size = len(trailer) if draw(st.integers(0, 3)) else draw(st.sampled_from([0, 1, 200, 2**64 - 1]))
    body = tag + struct.pack("<QQ", version, footer_size) + files
    body += format.BOOKEND if draw(st.integers(0, 7)) else b""
    body += xorbs + (format.BOOKEND if draw(st.integers(0, 7)) else b"") + trailer
    if draw(st.integers(0, 7)) == 0:
        body = body[: draw(st.integers(0, len(body)))]
    return body
