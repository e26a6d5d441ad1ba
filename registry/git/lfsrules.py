"""Which files go to LFS, by the Hub's rules: `.gitattributes` patterns, size, or binary content;
and which files a `.gitignore` leaves out. Patterns are matched as git matches them (pathspec)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pathspec
import pathspec.util
import re2

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


# Bounds on the work one preupload (up to 1,000 paths) may cost: at most MAX_RULES lines of a
# .gitattributes are read, of which MAX_GLOB_RULES glob patterns (each a regular expression tried
# on every path; literal names, which `git lfs track` of single files writes by the thousand, are
# looked up), and MAX_IGNORE_RULES lines (MAX_IGNORE_BYTES) of a .gitignore. Lines past them are
# not read. SECURITY: globs are matched by RE2 (google-re2, also pathspec's `re2` backend), in
# time linear in the path: Python's `re` backtracks, and `*a*a*a*a*b` against a path of 200 `a`s
# took it 19 s of CPU. The caches below keep at most 64 texts each, of bounded size.
MAX_RULES = 10_000
MAX_GLOB_RULES = 200
MAX_IGNORE_RULES = 500
MAX_IGNORE_BYTES = 64 * 1024

_PATTERN = pathspec.util.lookup_pattern("gitignore")
_GLOB = re.compile(r"[*?\[\\]")


@dataclass(frozen=True)
class _Rules:
    """The lines of a .gitattributes that say something about `filter`, each as (line number,
    sets filter=lfs). Literal names (`git lfs track` of single files writes them, often by the
    thousand) are looked up; glob patterns are tried last line first."""

    paths: dict[str, tuple[int, bool]]  # a literal with a '/': the path from the root
    names: dict[str, tuple[int, bool]]  # a literal without one: a file name anywhere
    globs: tuple[tuple[int, re2._Regexp, bool], ...]


@lru_cache(maxsize=64)
def _lfs_rules(gitattributes: str) -> _Rules:
    """As git reads them: the last line whose pattern matches a path decides; patterns follow
    .gitignore's syntax, except that a pattern matches the path itself, never what lies under a
    directory of that name, and `dir/` patterns match nothing (gitattributes(5)). At most
    MAX_RULES lines, of which MAX_GLOB_RULES globs, are read."""
    paths: dict[str, tuple[int, bool]] = {}
    names: dict[str, tuple[int, bool]] = {}
    globs: list[tuple[int, re2._Regexp, bool]] = []
    for number, line in enumerate(gitattributes.splitlines()[:MAX_RULES]):
        parts = line.split()
        if len(parts) < 2 or parts[0].startswith(("#", "!")) or parts[0].endswith("/"):
            continue
        says = [a for a in parts[1:] if a in ("-filter", "!filter") or a.startswith("filter=")]
        if not says:
            continue
        pattern, lfs = parts[0], says[-1] == "filter=lfs"
        if not _GLOB.search(pattern):
            (paths if "/" in pattern else names)[pattern.lstrip("/")] = (number, lfs)
            continue
        if len(globs) >= MAX_GLOB_RULES:
            continue
        try:
            compiled = _PATTERN(pattern)
        except (ValueError, TypeError):  # a pattern git would ignore too
            continue
        if isinstance(compiled, pathspec.RegexPattern) and compiled.regex is not None:
            globs.append((number, re2.compile(compiled.regex.pattern), lfs))
    return _Rules(paths, names, tuple(reversed(globs)))


def matches_lfs_rule(path: str, gitattributes: str) -> bool:
    """Whether `.gitattributes` puts `path` in LFS (the last rule about `filter` that matches wins)."""
    rules = _lfs_rules(gitattributes)
    missing = (-1, False)
    best = max(rules.paths.get(path, missing), rules.names.get(path.rsplit("/", 1)[-1], missing))
    for number, regex, lfs in rules.globs:
        if number < best[0]:
            break
        if regex.fullmatch(path):
            return lfs
    return best[1]


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


def bounded_gitignore(text: str) -> str:
    """The part of a .gitignore that is read: its first MAX_IGNORE_RULES lines within MAX_IGNORE_BYTES."""
    return "\n".join(text[:MAX_IGNORE_BYTES].splitlines()[:MAX_IGNORE_RULES])


@lru_cache(maxsize=64)
def gitignore_spec(text: str) -> pathspec.GitIgnoreSpec:
    """A .gitignore's rules (negations included); `text` is `bounded_gitignore`'s."""
    lines = text.splitlines()
    try:
        return pathspec.GitIgnoreSpec.from_lines(lines, backend="re2")
    except (ValueError, TypeError):  # skip the lines git would not read either
        valid = [line for line in lines if _valid_ignore_line(line)]
        return pathspec.GitIgnoreSpec.from_lines(valid, backend="re2")


def _valid_ignore_line(line: str) -> bool:
    try:
        pathspec.GitIgnoreSpec.from_lines([line], backend="re2")
    except (ValueError, TypeError):
        return False
    return True


def is_ignored(path: str, gitignore: str) -> bool:
    return bool(gitignore) and gitignore_spec(bounded_gitignore(gitignore)).match_file(path)
