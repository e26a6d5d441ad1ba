import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from registry.models import Repo
from tests.support.builders import make_repo, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_owner_changes_visibility_and_gating_with_the_client(hub, alice):
    make_repo(alice, "m")
    api = HfApi(token=token_for(alice))
    api.update_repo_settings("alice/m", private=True, gated="manual")
    repo = Repo.objects.get(name="m")
    assert repo.private and repo.gated == "manual"
    api.update_repo_settings("alice/m", gated=False)
    api.update_repo_settings("alice/m", visibility="public")
    repo.refresh_from_db()
    assert not repo.private and repo.gated == ""


def test_settings_refused_for_strangers_read_tokens_and_bad_values(hub, alice, bob):
    make_repo(alice, "m")
    with pytest.raises(HfHubHTTPError) as excinfo:
        HfApi(token=token_for(bob)).update_repo_settings("alice/m", gated="auto")
    assert excinfo.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as excinfo:
        HfApi(token=token_for(alice, role="read")).update_repo_settings("alice/m", gated="auto")
    assert excinfo.value.response.status_code == 403
    with pytest.raises(ValueError):
        HfApi(token=token_for(alice)).update_repo_settings("alice/m", gated="sometimes")
    make_repo(alice, "hidden", private=True)
    with pytest.raises(RepositoryNotFoundError):
        HfApi(token=token_for(bob)).update_repo_settings("alice/hidden", gated="auto")
    assert Repo.objects.get(name="m").gated == ""


def test_server_refuses_unknown_gating_values(client, alice):
    make_repo(alice, "m")
    response = client.put(
        "/api/models/alice/m/settings",
        data={"gated": "sometimes"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token_for(alice)}",
    )
    assert response.status_code == 400 and response["X-Error-Code"] == "BadRequest"
    assert Repo.objects.get(name="m").gated == ""
