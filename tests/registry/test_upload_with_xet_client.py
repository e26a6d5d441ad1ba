"""A default client (hf_xet installed, no settings) pushes a folder of small files: small text
travels inline, and files the Hub's rules put in LFS (here a small binary *.bin) go through Xet,
as on the Hub (tests/registry/test_upload_modes.py has the details)."""

import pytest
from huggingface_hub import HfApi, constants, snapshot_download

from tests.support.builders import token_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_upload_folder_of_small_files_with_default_client(hub, alice, tmp_path):
    assert constants.HF_HUB_DISABLE_XET is False
    import hf_xet  # noqa: F401 - the default install has it

    folder = tmp_path / "small"
    (folder / "tokenizer").mkdir(parents=True)
    files = {
        "config.json": b'{"a": 1}',
        "tokenizer/vocab.json": b'{"x": 0}',
        "small.bin": bytes(range(256)) * 8,  # binary and *.bin: LFS by the Hub's rules, so through Xet
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    api = HfApi(token=token_for(alice))
    api.create_repo("alice/small")
    api.upload_folder(folder_path=folder, repo_id="alice/small")
    snapshot = snapshot_download("alice/small")
    for name, data in files.items():
        assert (tmp_path.parent / snapshot / name).read_bytes() == data
