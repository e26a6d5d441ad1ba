"""Seeds the upstream Gatehouse of tests/mirror (run inside it: `manage.py shell -c`): its users,
tokens and repos through the real services; prints what the tests need as JSON."""

from __future__ import annotations

import json
import os
import pickle

from django.db import transaction

# os.system("id") as a protocol-4 pickle: never loaded, only scanned.
EVIL_PICKLE = (
    b"\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94."
)

PROTOCOL_0_PICKLE = b"cos\nsystem\n(S'id'\ntR.\n"

RAIL_LICENSE = "OpenRAIL license, first text.\nUse restrictions: no harm.\n"


def _random(size: int) -> bytes:
    """Random bytes that never start like a pickle or an archive (content.is_pickle_like sniffs
    the first bytes: one seed in about 250 made the tests' .safetensors files "pickles")."""
    return b"\0" + os.urandom(size - 1)


def main() -> None:
    from accounts import services as accounts
    from gating import services as gating
    from registry import services
    from tests.support.builders import commit_files

    big = _random(int(os.environ.get("MIRROR_BIG_BYTES", str(12 * 1024 * 1024))))
    with transaction.atomic():
        owner = accounts.user_create(username="upco", email="upco@example.org", password="correct-horse-battery-9")
        carol = accounts.user_create(username="carol", email="carol@example.org", password="correct-horse-battery-9")
        dave = accounts.user_create(username="dave", email="dave@example.org", password="correct-horse-battery-9")
        tokens = {
            user.username: accounts.token_create(user=user, name="t", role="read")[1] for user in (owner, carol, dave)
        }
        # For the uploads through hf_xet once the upstream serves (conftest.upstream_xet): made
        # by an operator, so it may act unverified.
        type(owner).objects.filter(pk=owner.pk).update(email_verification_waived=True)
        tokens["upco-write"] = accounts.token_create(user=owner, name="w", role="write")[1]

        def repo(name: str, files: dict[str, bytes], *, private: bool = False):
            made = services.repo_create(namespace="upco", name=name, private=private, creator=owner)
            commit_files(made, files, author=owner)
            return made

        public = repo(
            "public-model",
            {
                "README.md": b"---\nlicense: apache-2.0\n---\n# public\n",
                "config.json": b'{"hidden_size": 8}\n',
                "model.safetensors": _random(300_000),
                "big.safetensors": big,
                "weights.bin": pickle.dumps({"w": [1, 2, 3]}, protocol=4),
                "evil.bin": EVIL_PICKLE,
            },
        )
        gated = repo(
            "gated-model", {"README.md": b"---\nlicense: mit\n---\n# gated\n", "config.json": b'{"gated": true}\n'}
        )
        gated = services.repo_settings_update(repo=gated, gated="manual", actor=owner)
        gating.access_grant(repo=gated, reviewer=owner, user=carol, has_role=False)
        repo(
            "private-model",
            {"config.json": b'{"private": true}\n', "secret.safetensors": _random(50_000)},
            private=True,
        )
        data = services.repo_create(namespace="upco", name="tiny-data", repo_type="dataset", creator=owner)
        commit_files(data, {"data.csv": b"a,b\n1,2\n"}, author=owner)
        repo("nc-model", {"README.md": b"---\nlicense: cc-by-nc-4.0\n---\n", "config.json": b"{}\n"})
        repo("blocked-model", {"README.md": b"---\nlicense: mit\n---\n", "config.json": b"{}\n"})
        # MIT on main, a non-commercial license on a branch (the rules judge the revision too).
        relicensed = repo("relicensed", {"README.md": b"---\nlicense: mit\n---\n", "config.json": b"{}\n"})
        services.branch_create(repo=relicensed, branch="nc")
        commit_files(relicensed, {"README.md": b"---\nlicense: cc-by-nc-4.0\n---\n"}, author=owner, branch="nc")
        # Given their Xet-stored content through hf_xet once the upstream serves (conftest.upstream_xet).
        repo("xet-model", {"README.md": b"---\nlicense: mit\n---\n# xet\n"})
        repo("tiny-sd", {"README.md": b"---\nlibrary_name: diffusers\nlicense: mit\n---\n# tiny-sd\n"})
        gated_xet = repo("gated-xet", {"README.md": b"---\nlicense: mit\n---\n# gated xet\n"})
        gated_xet = services.repo_settings_update(repo=gated_xet, gated="manual", actor=owner)
        gating.access_grant(repo=gated_xet, reviewer=owner, user=carol, has_role=False)
        # The same bytes, a protocol-0 pickle (text, no magic), under a harmless name and a pickle one.
        repo("twins", {"blob.txt": PROTOCOL_0_PICKLE, "model.pkl": PROTOCOL_0_PICKLE})
        # A license our catalogue says needs acknowledgment (the upstream, a Gatehouse, asks it of
        # its own users too; its owner, a member, is exempt there).
        repo(
            "rail-model",
            {
                "README.md": b"---\nlicense: openrail\n---\n# rail\n",
                "LICENSE": RAIL_LICENSE.encode(),
                "config.json": b'{"rail": true}\n',
            },
        )
    commit = public.refs.get(name="refs/heads/main").commit_oid
    print(json.dumps({"tokens": tokens, "public_commit": commit}))
