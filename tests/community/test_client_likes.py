"""Likes through the real client: like (the pinned client has no method for it, so the Hub's
route with the client's own session and headers), unlike (a 405 before), list_liked_repos,
list_repo_likers, `likes` in model_info and list_models(sort="likes"); and what a stranger
learns about a private repo's likes (nothing: it answers like a missing repo)."""

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import RepositoryNotFoundError
from huggingface_hub.utils import get_session, hf_raise_for_status

from tests.support.builders import OrganizationFactory, UserFactory, add_member, make_repo, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def like(api: HfApi, repo_id: str, repo_type: str = "model") -> None:
    """What `HfApi.like` did before the client dropped it: POST /api/{type}s/{id}/like."""
    response = get_session().post(f"{api.endpoint}/api/{repo_type}s/{repo_id}/like", headers=api._build_hf_headers())
    hf_raise_for_status(response)


def test_like_unlike_and_the_lists(hub, alice, bob):
    make_repo(alice, "popular")
    make_repo(alice, "quiet")
    make_repo(alice, "table", repo_type="dataset")
    alice_api, bob_api = HfApi(token=token_for(alice)), HfApi(token=token_for(bob))

    like(bob_api, "alice/popular")
    like(bob_api, "alice/popular")  # twice: still one like
    like(alice_api, "alice/popular")
    like(bob_api, "alice/table", "dataset")
    assert bob_api.model_info("alice/popular").likes == 2
    assert bob_api.model_info("alice/quiet").likes == 0
    assert [m.id for m in bob_api.list_models(author="alice", sort="likes")][0] == "alice/popular"

    likes = bob_api.list_liked_repos()
    assert (likes.user, likes.total, likes.models, likes.datasets) == ("bob", 2, ["alice/popular"], ["alice/table"])
    assert HfApi(token=False).list_liked_repos("bob").models == ["alice/popular"]
    likers = list(HfApi(token=False).list_repo_likers("alice/popular"))
    assert sorted(u.username for u in likers) == ["alice", "bob"]
    assert [u.username for u in bob_api.list_repo_likers("alice/table", repo_type="dataset")] == ["bob"]

    bob_api.unlike("alice/popular")
    bob_api.unlike("alice/popular")  # twice: nothing to take back, no error
    assert bob_api.model_info("alice/popular").likes == 1
    assert bob_api.list_liked_repos().models == []
    with pytest.raises(RepositoryNotFoundError):
        bob_api.unlike("alice/nope")


def test_private_repos_never_reveal_likes_to_strangers(hub, alice, bob):
    org = OrganizationFactory(name="acme")
    add_member(org, alice, "admin")
    add_member(org, bob, "read")
    make_repo(org, "secret", private=True, author=alice)
    alice_api, bob_api = HfApi(token=token_for(alice)), HfApi(token=token_for(bob))
    like(alice_api, "acme/secret")
    like(bob_api, "acme/secret")
    assert bob_api.model_info("acme/secret").likes == 2
    assert alice_api.list_liked_repos().models == ["acme/secret"]

    stranger = HfApi(token=token_for(UserFactory(username="sam")))
    for api in (stranger, HfApi(token=False)):
        with pytest.raises(RepositoryNotFoundError):
            list(api.list_repo_likers("acme/secret"))
        with pytest.raises(RepositoryNotFoundError):
            list(api.list_repo_likers("acme/missing"))
        assert api.list_liked_repos("alice").models == []
        assert "acme/secret" not in [m.id for m in api.list_models(sort="likes")]
    with pytest.raises(RepositoryNotFoundError):
        like(stranger, "acme/secret")
    with pytest.raises(RepositoryNotFoundError):
        stranger.unlike("acme/secret")
    assert bob_api.model_info("acme/secret").likes == 2
