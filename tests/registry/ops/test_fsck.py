import pytest
from django.core.management import CommandError, call_command

from registry.ops.fsck import fsck
from registry.storage import get_storage
from tests.support.builders import commit_files, make_repo

pytestmark = pytest.mark.django_db


def test_fsck_passes_on_a_healthy_registry_and_finds_damage(alice, capsys):
    repo = make_repo(alice, "m", {"a.txt": b"alpha", "w.safetensors": b"\0" * 300})
    commit_files(repo, {"a.txt": b"beta"}, author=alice)
    call_command("registry_fsck", "--rehash")
    assert "Checked 3 commits" in capsys.readouterr().out

    path = get_storage().path_for("a" * 64)  # unrelated: fsck only checks referenced content
    assert not path.exists()
    import hashlib

    damaged = get_storage().path_for(hashlib.sha256(b"beta").hexdigest())
    damaged.chmod(0o644)
    damaged.write_bytes(b"gamm")  # same size, different bytes
    assert fsck().problems == []
    assert any("does not match its hash" in p for p in fsck(rehash=True).problems)
    damaged.unlink()
    with pytest.raises(CommandError):
        call_command("registry_fsck")
