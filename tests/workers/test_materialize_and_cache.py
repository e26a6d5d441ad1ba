import os

import pytest

from workers.runner.cache import PipelineCache
from workers.runner.materialize import COMPLETE_MARKER, materialize


def test_materialize_links_blobs_once_and_refuses_escaping_paths(tmp_path):
    blob = tmp_path / "blob"
    blob.write_bytes(b"weights")
    files = {"model_index.json": blob, "unet/diffusion_pytorch_model.safetensors": blob}
    folder = materialize(cache_dir=tmp_path / "cache", commit_oid="a" * 40, files=files)
    assert (folder / "unet/diffusion_pytorch_model.safetensors").read_bytes() == b"weights"
    assert os.stat(folder / "model_index.json").st_ino == os.stat(blob).st_ino  # a hard link, no copy
    assert (folder / COMPLETE_MARKER).exists()
    assert materialize(cache_dir=tmp_path / "cache", commit_oid="a" * 40, files=files) == folder
    with pytest.raises(ValueError, match="unsafe path"):
        materialize(cache_dir=tmp_path / "cache", commit_oid="b" * 40, files={"../x": blob})
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [folder.name]  # no half-built folder


def test_cache_evicts_least_recently_used_by_bytes():
    evictions = []
    cache = PipelineCache(100, on_evict=lambda: evictions.append(1))
    cache.get("a", lambda: ("A", 40))
    cache.get("b", lambda: ("B", 40))
    assert cache.get("a", lambda: pytest.fail("a is cached")) == "A"
    cache.get("c", lambda: ("C", 40))  # 120 > 100: evicts b, the least recently used
    assert "b" not in cache and "a" in cache and "c" in cache and evictions == [1]
    cache.get("huge", lambda: ("H", 500))  # larger than the budget: everything else goes
    assert len(cache) == 1 and cache.used_bytes == 500
    assert cache.hits == 1 and cache.misses == 4
