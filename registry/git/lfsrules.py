"""Which files go to LFS, by the Hub's rules: `.gitattributes` patterns, size, or binary content."""

from __future__ import annotations

import fnmatch
from functools import lru_cache

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


@lru_cache(maxsize=256)
def lfs_patterns(gitattributes: str) -> tuple[str, ...]:
    patterns = []
    for line in gitattributes.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not parts[0].startswith("#") and "filter=lfs" in parts[1:]:
            patterns.append(parts[0])
    return tuple(patterns)


def matches_lfs_pattern(path: str, patterns: tuple[str, ...]) -> bool:
    basename = path.rsplit("/", 1)[-1]
    for pattern in patterns:
        target = path if "/" in pattern.strip("/") else basename
        if fnmatch.fnmatchcase(target, pattern.lstrip("/")):
            return True
    return False


def looks_binary(sample: bytes) -> bool:
    return b"\0" in sample[:512]


def should_use_lfs(*, path: str, size: int, sample: bytes, gitattributes: str) -> bool:
    if size == 0:
        return False
    return size > LFS_SIZE_THRESHOLD or looks_binary(sample) or matches_lfs_pattern(path, lfs_patterns(gitattributes))
