"""Install the operator's safety checker from a Hub-compatible endpoint (`manage.py
install_safety_checker`): plain Python over huggingface_hub and local paths, no Django.

Guarantees:
- the revision is a full commit id, and the endpoint must answer that very commit (nothing moves
  under the operator between the review and the install);
- only the files a checker needs are fetched: the model's `config.json` and `*.safetensors` (an
  index for sharded weights), and the feature extractor's `preprocessor_config.json`. Pickle
  weights (`pytorch_model.bin`, `.pt`, `.ckpt`, ...) are never downloaded; a repo whose checker
  has no safetensors weights is refused;
- every file is checked against the hash the endpoint lists for it (the LFS sha256, or the git
  blob id of small files) before it is used;
- the checker is loaded and run on one image with torch in this process (the command's), never
  in a web process; a folder that does not load is refused;
- the new folder, with its record `installed.json` (endpoint, repo, revision, each file's sha256
  and size, when), replaces the old one by renames: the destination holds either the old checker
  or the new one with its record, never a mix, and a refused install leaves it as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

RECORD_NAME = "installed.json"
COMMIT_ID = re.compile(r"^[0-9a-f]{40}$")
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".joblib", ".npy", ".npz", ".msgpack", ".h5")
# The real checker (CompVis/stable-diffusion-safety-checker) is 1.2 GB in fp32.
DEFAULT_MAX_BYTES = 4 * 1024**3


class InstallRefused(Exception):
    """The install was refused; the message says why and what to do. Nothing was changed."""


@dataclass(frozen=True)
class InstalledFile:
    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class InstallRecord:
    endpoint: str
    repo: str
    revision: str
    installed_at: str
    files: list[InstalledFile] = field(default_factory=list)

    def as_json(self) -> dict:
        return asdict(self)


def read_record(folder: str | Path) -> dict | None:
    """The record of the checker installed in `folder`, or None (none, or installed by hand)."""
    try:
        data = json.loads((Path(folder) / RECORD_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def validate_request(endpoint: str, repo_id: str, revision: str) -> str:
    """The endpoint without a trailing slash; refuses what cannot be a pinned install."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise InstallRefused(f"--endpoint must be an http(s) URL such as https://huggingface.co, not {endpoint!r}.")
    if not REPO_ID.match(repo_id) or ".." in repo_id:
        raise InstallRefused(
            f"--repo must be a repo id such as CompVis/stable-diffusion-safety-checker, not {repo_id!r}."
        )
    if not COMMIT_ID.match(revision):
        raise InstallRefused(
            f"--revision must be a full 40-character commit id (a branch or tag can move), not {revision!r}."
        )
    return endpoint.rstrip("/")


def choose_files(paths: list[str]) -> list[str]:
    """The files of the checker to fetch, from every path of the repo at the revision.

    Two layouts: a checker repo (config.json, preprocessor_config.json and the weights at the root)
    or a Stable Diffusion repo (safety_checker/ and feature_extractor/)."""
    present = set(paths)
    if "safety_checker/config.json" in present:
        model, extractor = "safety_checker/", "feature_extractor/"
    elif "config.json" in present:
        model, extractor = "", ""
    else:
        raise InstallRefused("This repo holds no safety checker: no config.json at its root or in safety_checker/.")
    if f"{extractor}preprocessor_config.json" not in present:
        raise InstallRefused(f"The checker has no feature extractor ({extractor}preprocessor_config.json).")
    in_model = [p for p in paths if p.startswith(model) and "/" not in p[len(model) :]]
    weights = [p for p in in_model if p.endswith(".safetensors") or p.endswith(".safetensors.index.json")]
    if not any(p.endswith(".safetensors") for p in weights):
        pickles = sorted(p for p in in_model if p.lower().endswith(PICKLE_SUFFIXES))
        found = f" (it has only {', '.join(pickles)})" if pickles else ""
        raise InstallRefused(
            f"The checker has no safetensors weights{found}: pickle weights can run code when loaded and are "
            "never installed. Choose a revision or a repo that has model.safetensors."
        )
    return sorted({f"{model}config.json", f"{extractor}preprocessor_config.json", *weights})


def _git_blob_id(path: Path) -> str:
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode(), usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(api, repo_id: str, revision: str, staging: Path, max_bytes: int) -> list[InstalledFile]:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        info = api.model_info(repo_id, revision=revision, files_metadata=True)
    except HfHubHTTPError as exc:
        raise InstallRefused(f"The endpoint refused {repo_id}@{revision}: {exc}") from exc
    except Exception as exc:  # connection refused, DNS, TLS, HF_HUB_OFFLINE: the client's many kinds
        raise InstallRefused(f"Could not reach {api.endpoint}: {exc}") from exc
    if info.sha != revision:
        raise InstallRefused(f"The endpoint answered commit {info.sha} for {revision}: not the pinned revision.")
    siblings = {entry.rfilename: entry for entry in info.siblings or []}
    wanted = choose_files(list(siblings))
    total = sum(siblings[path].size or 0 for path in wanted)
    if total > max_bytes:
        raise InstallRefused(f"The checker's files total {total} bytes, over the limit of {max_bytes} (--max-bytes).")
    installed = []
    for path in wanted:
        entry = siblings[path]
        try:
            local = Path(
                hf_hub_download(
                    repo_id,
                    path,
                    revision=revision,
                    endpoint=api.endpoint,
                    token=api.token,
                    local_dir=staging,
                )
            )
        except Exception as exc:  # an HTTP error or a dropped connection: nothing is installed
            raise InstallRefused(f"Downloading {path} failed: {exc}") from exc
        sha256 = _sha256(local)
        expected_sha256 = entry.lfs.sha256 if entry.lfs is not None else None
        if expected_sha256 is not None and sha256 != expected_sha256:
            raise InstallRefused(f"{path}: sha256 {sha256} is not the {expected_sha256} the endpoint lists.")
        if expected_sha256 is None and entry.blob_id and _git_blob_id(local) != entry.blob_id:
            raise InstallRefused(f"{path}: its content is not the blob {entry.blob_id} the endpoint lists.")
        installed.append(InstalledFile(path=path, sha256=sha256, size=local.stat().st_size))
    shutil.rmtree(staging / ".cache", ignore_errors=True)  # huggingface_hub's download bookkeeping
    _only_expected_files(staging, {f.path for f in installed})
    return installed


def _only_expected_files(folder: Path, expected: set[str]) -> None:
    """SECURITY: nothing but the chosen files (no pickle smuggled in by a redirect or a bug)."""
    found = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink()}
    if found != expected:
        raise InstallRefused(f"Unexpected files in the download: {sorted(found - expected)}.")


def verify_loads(folder: Path) -> None:
    """Load the checker as the worker does (workers.safety.checker) and screen one image.
    Imports torch: for the command's process and workers only."""
    import torch

    from workers.safety.checker import CheckerUnavailable, load_checker, screen

    try:
        checker, extractor = load_checker(folder, device=torch.device("cpu"), dtype=torch.float32)
    except CheckerUnavailable as exc:
        raise InstallRefused(str(exc)) from exc
    except Exception as exc:  # the loaders raise many kinds (SafetensorError, KeyError, ...)
        raise InstallRefused(f"The safety checker could not be loaded: {exc!r}") from exc
    try:
        verdicts = screen(checker, extractor, torch.zeros(1, 3, 64, 64))
    except Exception as exc:  # a folder that loads but cannot screen is no checker either
        raise InstallRefused(f"The checker loaded but could not screen an image: {exc!r}") from exc
    if len(verdicts) != 1:
        raise InstallRefused("The checker did not give one verdict for one image.")


def _write_record(folder: Path, record: InstallRecord) -> None:
    tmp = folder / f".{RECORD_NAME}.tmp"
    tmp.write_text(json.dumps(record.as_json(), indent=2) + "\n")
    os.replace(tmp, folder / RECORD_NAME)


def install_checker(
    *,
    endpoint: str,
    repo_id: str,
    revision: str,
    dest: Path,
    token: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    verify=verify_loads,
) -> InstallRecord:
    """Fetch, check, load and put the checker at `dest` (see the module's guarantees)."""
    from huggingface_hub import HfApi

    endpoint = validate_request(endpoint, repo_id, revision)
    dest = Path(dest).absolute()
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.parent / f".{dest.name}.installing-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        files = _fetch(HfApi(endpoint=endpoint, token=token), repo_id, revision, staging, max_bytes)
        verify(staging)
        record = InstallRecord(
            endpoint=endpoint,
            repo=repo_id,
            revision=revision,
            installed_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            files=files,
        )
        _write_record(staging, record)
        _swap_into_place(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return record


def _swap_into_place(staging: Path, dest: Path) -> None:
    """Two renames on one filesystem; the old folder is removed only once the new one is there."""
    old = None
    if dest.exists() or dest.is_symlink():
        old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(dest, old)
    try:
        os.replace(staging, dest)
    except OSError:
        if old is not None:
            os.replace(old, dest)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
