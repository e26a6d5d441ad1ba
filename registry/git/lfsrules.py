"""Which files go to LFS, by the Hub's rules: `.gitattributes` patterns, size, or binary content;
and which files a `.gitignore` leaves out. Patterns are matched as git matches them (pathspec)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import pathspec

LFS_SIZE_THRESHOLD = 10 * 1024 * 1024

DEFAULT_GITATTRIBUTES = "".join(
    f"{pattern} filter=lfs diff=lfs merge=lfs -text\n"
    for pattern in (
        "*.7z",
        "*.arrow",
        "*.bin",
        "*.bz2",
        "*.ckpt",
        "*.ftz",
        "*.gz",
        "*.h5",
        "*.joblib",
        "*.lfs.*",
        "*.mlmodel",
        "*.model",
        "*.msgpack",
        "*.npy",
        "*.npz",
        "*.onnx",
        "*.ot",
        "*.parquet",
        "*.pb",
        "*.pickle",
        "*.pkl",
        "*.pt",
        "*.pth",
        "*.rar",
        "*.safetensors",
        "saved_model/**/*",
        "*.tar.*",
        "*.tar",
        "*.tflite",
        "*.tgz",
        "*.wasm",
        "*.xz",
        "*.zip",
        "*.zst",
        "*tfevents*",
    )
)


# At most this many rule lines are read from a .gitattributes or .gitignore: each is a regular
# expression tried on every path of a preupload (up to 1,000), so the work stays bounded.
MAX_RULES = 2000


@dataclass(frozen=True)
class _Rule:
    spec: pathspec.PathSpec
    lfs: bool  # the line sets filter=lfs (True) or sets filter to anything else / unsets it (False)


@lru_cache(maxsize=256)
def _lfs_rules(gitattributes: str) -> tuple[_Rule, ...]:
    """The lines of a .gitattributes that say something about `filter`, in file order. As in git,
    the last line whose pattern matches a path decides its attribute; patterns follow .gitignore's
    syntax, except that a directory pattern (`dir/`) matches nothing (gitattributes(5))."""
    rules = []
    for line in gitattributes.splitlines()[:MAX_RULES]:
        parts = line.split()
        if len(parts) < 2 or parts[0].startswith(("#", "!")) or parts[0].endswith("/"):
            continue
        says = [a for a in parts[1:] if a in ("-filter", "!filter") or a.startswith("filter=")]
        if not says:
            continue
        try:
            spec = pathspec.PathSpec.from_lines("gitignore", [parts[0]])
        except (ValueError, TypeError):  # a pattern git would ignore too
            continue
        rules.append(_Rule(spec, says[-1] == "filter=lfs"))
    return tuple(rules)


def matches_lfs_rule(path: str, gitattributes: str) -> bool:
    """Whether `.gitattributes` puts `path` in LFS (the last rule about `filter` that matches wins)."""
    for rule in reversed(_lfs_rules(gitattributes)):
        if rule.spec.match_file(path):
            return rule.lfs
    return False


def looks_binary(sample: bytes) -> bool:
    """Judged from the first 512 bytes, as the Hub judges the preupload `sample`: a NUL byte, or
    more than 10% control characters other than whitespace and escape, is binary. Text in any
    8-bit encoding (UTF-8, Latin-1) is text."""
    sample = sample[:512]
    if b"\0" in sample:
        return True
    suspicious = sum(1 for byte in sample if byte < 7 or 14 <= byte < 32 and byte != 27)
    return suspicious * 10 > len(sample)


def should_use_lfs(
    *, path: str, size: int, sample: bytes, gitattributes: str, text_max: int = LFS_SIZE_THRESHOLD
) -> bool:
    """The Hub's upload mode: empty files are regular; files matched by an LFS rule of
    `gitattributes`, binary content and text larger than `text_max` go to LFS."""
    if size == 0:
        return False
    return size > text_max or looks_binary(sample) or matches_lfs_rule(path, gitattributes)


@lru_cache(maxsize=256)
def gitignore_spec(text: str) -> pathspec.GitIgnoreSpec:
    """A .gitignore's rules (negations included), at most MAX_RULES lines."""
    lines = text.splitlines()[:MAX_RULES]
    try:
        return pathspec.GitIgnoreSpec.from_lines(lines)
    except (ValueError, TypeError):  # skip the lines git would not read either
        return pathspec.GitIgnoreSpec.from_lines([line for line in lines if _valid_ignore_line(line)])


def _valid_ignore_line(line: str) -> bool:
    try:
        pathspec.GitIgnoreSpec.from_lines([line])
    except (ValueError, TypeError):
        return False
    return True


def is_ignored(path: str, gitignore: str) -> bool:
    return bool(gitignore) and gitignore_spec(gitignore).match_file(path)
