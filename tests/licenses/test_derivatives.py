"""Use restrictions follow a model into its derivatives: a card that names a RAIL-licensed base
model must declare a license that carries the restrictions, or the commit is refused."""

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from core.errors import BadRequest
from registry.models import Repo
from tests.licenses.conftest import head
from tests.support.builders import commit_files, make_repo, token_for

BASE_CARD = b"---\nlicense: creativeml-openrail-m\n---\n# Base\n"


def _card(license_id: str, base: str = "alice/base") -> bytes:
    return f"---\nlicense: {license_id}\nbase_model: {base}\n---\n# Derived\n".encode()


@pytest.mark.django_db(transaction=True)
def test_client_commit_of_a_mit_derivative_of_an_openrail_model_is_refused(hub, alice, bob):
    make_repo(alice, "base", {"README.md": BASE_CARD})
    derived = make_repo(bob, "derived", {"config.json": b"{}"})
    before = head(derived)
    api = HfApi(token=token_for(bob))
    with pytest.raises(HfHubHTTPError) as refused:
        api.upload_file(path_or_fileobj=_card("mit"), path_in_repo="README.md", repo_id="bob/derived")
    message = str(refused.value)
    assert refused.value.response.status_code == 400
    assert "base_model alice/base is licensed under CreativeML OpenRAIL-M (creativeml-openrail-m)" in message
    assert "README.md declares 'license: mit'" in message and "openrail++" in message
    assert head(derived) == before and Repo.objects.get(pk=derived.pk).license == ""

    api.upload_file(path_or_fileobj=_card("openrail++"), path_in_repo="README.md", repo_id="bob/derived")
    assert Repo.objects.get(pk=derived.pk).license == "openrail++"
    listed = HfApi().list_repo_commits("bob/derived")
    assert len(listed) == 3  # initial commit, config.json, README.md


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("base_license", "own", "allowed"),
    [
        ("creativeml-openrail-m", "creativeml-openrail-m", True),
        ("creativeml-openrail-m", "bigscience-openrail-m", True),
        ("creativeml-openrail-m", "", False),
        ("creativeml-openrail-m", "other", False),
        ("llama2", "llama2", True),
        ("llama2", "llama3", False),
        ("llama2", "apache-2.0", False),
        ("mit", "apache-2.0", True),
        ("", "mit", True),
    ],
)
def test_restriction_rules(alice, bob, base_license, own, allowed):
    make_repo(alice, "base", {"README.md": f"---\nlicense: {base_license}\n---\n".encode() if base_license else b"#"})
    derived = make_repo(bob, "derived")
    card = f"---\n{'license: ' + own if own else ''}\nlicense_name: custom\nbase_model: alice/base\n---\n".encode()
    if allowed:
        commit_files(derived, {"README.md": card}, author=bob)
    else:
        with pytest.raises(BadRequest, match="base_model alice/base is licensed under"):
            commit_files(derived, {"README.md": card}, author=bob)


@pytest.mark.django_db
def test_private_base_models_the_author_cannot_see_are_ignored(alice, bob):
    make_repo(alice, "hidden", {"README.md": BASE_CARD}, private=True)
    derived = make_repo(bob, "derived")
    commit_files(derived, {"README.md": _card("mit", "alice/hidden")}, author=bob)  # no leak of alice/hidden
    own = make_repo(alice, "own-derived")
    with pytest.raises(BadRequest, match="alice/hidden"):
        commit_files(own, {"README.md": _card("mit", "alice/hidden")}, author=alice)


@pytest.mark.django_db
def test_commits_that_leave_the_card_alone_are_not_checked(alice, bob):
    base = make_repo(alice, "base", {"README.md": b"---\nlicense: mit\n---\n"})
    derived = make_repo(bob, "derived", {"README.md": _card("mit")})
    commit_files(base, {"README.md": BASE_CARD}, author=alice)  # the base turns RAIL later
    commit_files(derived, {"weights.bin": b"\0" * 8}, author=bob)
    with pytest.raises(BadRequest):
        commit_files(derived, {"README.md": _card("mit") + b"\nMore text.\n"}, author=bob)


@pytest.mark.django_db
def test_authors_see_derivatives_and_their_licenses(client, alice, bob):
    base = make_repo(alice, "base", {"README.md": b"---\nlicense: mit\n---\n"})
    make_repo(bob, "legacy", {"README.md": _card("mit")})  # derived before the base turned RAIL
    commit_files(base, {"README.md": BASE_CARD}, author=alice)
    make_repo(bob, "good", {"README.md": _card("creativeml-openrail-m")})
    make_repo(bob, "private-one", {"README.md": _card("openrail")}, private=True)
    items = client.get("/api/models/alice/base/derivatives").json()
    assert [(i["id"], i["license"], i["carriesRestrictions"]) for i in items] == [
        ("bob/good", "creativeml-openrail-m", True),
        ("bob/legacy", "mit", False),
    ]
    page = client.get("/alice/base/derivatives").content.decode()
    assert "bob/good" in page and "bob/legacy" in page and "private-one" not in page
