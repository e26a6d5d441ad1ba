"""Clients other than `huggingface_hub`'s Python API, against a live Gatehouse: the `hf` CLI run
as a subprocess, and `transformers`' `from_pretrained` of a tiny model saved locally and uploaded.
Nothing is downloaded from anywhere else (no network)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import HfApi

from tests.support.builders import token_for

pytestmark = pytest.mark.django_db(transaction=True)

HF = str(Path(sys.executable).with_name("hf"))


def _hf(hub: str, token: str | None, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(HF_ENDPOINT=hub, HF_HOME=str(home), HF_HUB_DISABLE_UPDATE_CHECK="1", HF_HUB_DISABLE_TELEMETRY="1")
    if token:
        env["HF_TOKEN"] = token
    return subprocess.run([HF, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_hf_cli_whoami_create_upload_download(hub, alice, bob, tmp_path):
    home = tmp_path / "hf-home"
    token = token_for(alice)

    whoami = _hf(hub, token, home, "auth", "whoami", "--format", "json")
    assert whoami.returncode == 0, whoami.stderr
    answer = json.loads(whoami.stdout)
    assert answer["user"] == "alice" and answer["endpoint"] == hub, answer
    anonymous = _hf(hub, None, home, "auth", "whoami")
    assert anonymous.returncode != 0  # not logged in: no token, nothing from the public Hub

    created = _hf(hub, token, home, "repos", "create", "alice/cli-model", "--private")
    assert created.returncode == 0, created.stderr
    assert HfApi(token=token).model_info("alice/cli-model").private is True
    again = _hf(hub, token, home, "repos", "create", "alice/cli-model")
    assert again.returncode != 0 and "You already created this model repo" in again.stderr
    assert _hf(hub, token, home, "repos", "create", "alice/cli-model", "--exist-ok").returncode == 0

    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text('{"a": 1}')
    (folder / "sub" / "weights.bin").write_bytes(os.urandom(200_000))
    uploaded = _hf(hub, token, home, "upload", "alice/cli-model", str(folder), ".", "--commit-message", "from cli")
    assert uploaded.returncode == 0, uploaded.stderr
    single = tmp_path / "notes.txt"
    single.write_text("hello\n")
    assert _hf(hub, token, home, "upload", "alice/cli-model", str(single), "docs/notes.txt").returncode == 0
    commits = HfApi(token=token).list_repo_commits("alice/cli-model")
    assert "from cli" in [c.title for c in commits]

    out = tmp_path / "out"
    downloaded = _hf(hub, token, home, "download", "alice/cli-model", "--local-dir", str(out))
    assert downloaded.returncode == 0, downloaded.stderr
    assert (out / "sub" / "weights.bin").read_bytes() == (folder / "sub" / "weights.bin").read_bytes()
    assert (out / "docs" / "notes.txt").read_text() == "hello\n"
    one = _hf(hub, token, home, "download", "alice/cli-model", "config.json", "--local-dir", str(tmp_path / "one"))
    assert one.returncode == 0 and json.loads((tmp_path / "one" / "config.json").read_text()) == {"a": 1}

    # A private repo looks missing to someone else, through the CLI too.
    stranger = _hf(hub, token_for(bob), tmp_path / "bob-home", "download", "alice/cli-model", "config.json")
    assert stranger.returncode != 0
    assert "Repository Not Found" in stranger.stderr + stranger.stdout or "not found" in stranger.stderr.lower()


def test_transformers_from_pretrained_of_an_uploaded_tiny_model(hub, alice, tmp_path):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")

    config = transformers.BertConfig(
        vocab_size=64,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    torch.manual_seed(0)
    model = transformers.BertModel(config)
    local = tmp_path / "tiny-bert"
    model.save_pretrained(local)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *(f"w{i}" for i in range(59))]
    (local / "vocab.txt").write_text("\n".join(vocab) + "\n")
    local_tokenizer = transformers.BertTokenizerFast(vocab_file=str(local / "vocab.txt"))
    local_tokenizer.save_pretrained(local)

    token = token_for(alice)
    api = HfApi(token=token)
    api.create_repo("alice/tiny-bert", private=True)
    api.upload_folder(folder_path=local, repo_id="alice/tiny-bert")

    cache = tmp_path / "cache"
    loaded = transformers.AutoModel.from_pretrained("alice/tiny-bert", token=token, cache_dir=cache)
    assert type(loaded).__name__ == "BertModel" and loaded.config.hidden_size == 16
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    tokenizer = transformers.AutoTokenizer.from_pretrained("alice/tiny-bert", token=token, cache_dir=cache)
    assert tokenizer.get_vocab() == local_tokenizer.get_vocab()
    assert tokenizer("w1 w2 [MASK]")["input_ids"] == local_tokenizer("w1 w2 [MASK]")["input_ids"]
    # A pinned revision, and a private repo without the token looks missing.
    sha = api.model_info("alice/tiny-bert").sha
    config_at = transformers.AutoConfig.from_pretrained("alice/tiny-bert", revision=sha, token=token, cache_dir=cache)
    assert config_at.vocab_size == 64
    with pytest.raises(OSError, match="not a local folder and is not a valid model identifier"):
        transformers.AutoConfig.from_pretrained("alice/tiny-bert", token=False, cache_dir=tmp_path / "anon")


LOAD_DATASET = """
import json, sys
from datasets import load_dataset
kwargs = {"token": sys.argv[2]} if len(sys.argv) > 2 else {}
try:
    loaded = load_dataset(sys.argv[1], **kwargs)
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
else:
    print(json.dumps({split: loaded[split].to_list() for split in loaded}))
"""


def _load_dataset(hub: str, home: Path, repo_id: str, token: str | None = None) -> dict:
    """`datasets.load_dataset` in its own process: `datasets` reads HF_ENDPOINT when imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(HF_ENDPOINT=hub, HF_HOME=str(home), HF_HUB_DISABLE_TELEMETRY="1")
    args = [sys.executable, "-c", LOAD_DATASET, repo_id, *([token] if token else [])]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_datasets_load_dataset_of_a_dataset_repo(hub, alice, bob, tmp_path):
    pytest.importorskip("datasets")
    token = token_for(alice)
    api = HfApi(token=token)
    api.create_repo("alice/tiny-ds", repo_type="dataset", private=True)
    folder = tmp_path / "ds" / "data"
    folder.mkdir(parents=True)
    (folder / "train.csv").write_text("text,label\nhello,1\nworld,0\n")
    (folder / "test.csv").write_text("text,label\nagain,1\n")
    api.upload_folder(folder_path=tmp_path / "ds", repo_id="alice/tiny-ds", repo_type="dataset")

    loaded = _load_dataset(hub, tmp_path / "alice-home", "alice/tiny-ds", token)
    assert loaded == {
        "train": [{"text": "hello", "label": 1}, {"text": "world", "label": 0}],
        "test": [{"text": "again", "label": 1}],
    }
    # A private dataset looks missing to someone else and to anonymous callers.
    for who, caller_token in (("bob", token_for(bob)), ("anonymous", None)):
        refused = _load_dataset(hub, tmp_path / f"{who}-home", "alice/tiny-ds", caller_token)
        assert refused["error"] == "DatasetNotFoundError", (who, refused)
