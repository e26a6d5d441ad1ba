"""The real huggingface_hub client on discussions: open, list, comment, edit, hide, rename,
close and reopen; the objects it returns are filled in from Gatehouse's answers."""

import pytest
from huggingface_hub import HfApi
from huggingface_hub.community import DiscussionComment, DiscussionStatusChange, DiscussionTitleChange
from huggingface_hub.errors import HfHubHTTPError

from community import services
from community.models import Event
from tests.support.builders import UserFactory, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_discussion_round_trip(hub, model, alice, bob):
    api_bob = HfApi(token=token_for(bob))
    api_alice = HfApi(token=token_for(alice))

    created = api_bob.create_discussion("alice/model", "Weights look **off**", description="Loss is *nan* at step 3.")
    assert created.num == 1 and created.title == "Weights look **off**"
    assert created.status == "open" and created.is_pull_request is False and created.author == "bob"
    assert created.repo_id == "alice/model" and created.repo_type == "model"
    assert created.url == f"{hub}/alice/model/discussions/1"
    assert created.git_reference is None and created.conflicting_files is None and created.target_branch is None
    opening = created.events[0]
    assert isinstance(opening, DiscussionComment)
    assert (
        opening.content == "Loss is *nan* at step 3." and opening.rendered == "<p>Loss is <em>nan</em> at step 3.</p>\n"
    )
    assert opening.author == "bob" and opening.edited is False and opening.hidden is False
    assert opening.edit_history == [] and opening.last_edited_by == "bob"
    assert opening.created_at.tzinfo is not None

    reply = api_alice.comment_discussion("alice/model", 1, "Which `optimizer`?")
    assert isinstance(reply, DiscussionComment) and reply.author == "alice" and reply.content == "Which `optimizer`?"
    assert reply.id == reply.id.lower() and len(reply.id) == 24

    edited = api_alice.edit_discussion_comment("alice/model", 1, reply.id.upper(), "Which optimizer and LR?")
    assert edited.content == "Which optimizer and LR?" and edited.edited is True
    assert edited.number_of_edits == 1 and edited.edit_history[0]["raw"] == "Which `optimizer`?"
    assert edited.last_edited_by == "alice" and edited.last_edited_at >= reply.created_at

    renamed = api_bob.rename_discussion("alice/model", 1, "NaN loss at step 3")
    assert isinstance(renamed, DiscussionTitleChange)
    assert (renamed.old_title, renamed.new_title) == ("Weights look **off**", "NaN loss at step 3")

    closed = api_bob.change_discussion_status("alice/model", 1, "closed", comment="Fixed on my side.")
    assert isinstance(closed, DiscussionStatusChange) and closed.new_status == "closed" and closed.author == "bob"
    reopened = api_alice.change_discussion_status("alice/model", 1, "open")
    assert reopened.new_status == "open"

    with pytest.warns(UserWarning, match="irreversible"):
        hidden = api_alice.hide_discussion_comment("alice/model", 1, opening.id)
    assert hidden.hidden is True and hidden.content == "This comment has been hidden"
    assert "nan" not in str(hidden._event)

    details = api_bob.get_discussion_details("alice/model", 1)
    assert details.title == "NaN loss at step 3" and details.status == "open"
    kinds = [type(event).__name__ for event in details.events]
    assert kinds == [
        "DiscussionComment",  # opening, hidden
        "DiscussionComment",  # alice's reply, edited
        "DiscussionTitleChange",
        "DiscussionComment",  # "Fixed on my side."
        "DiscussionStatusChange",
        "DiscussionStatusChange",
    ]
    assert details.events[0].hidden and details.events[1].edited
    assert details.events[3].content == "Fixed on my side."


def test_list_pages_and_filters(hub, model, alice, bob, settings):
    settings.GATEHOUSE_DISCUSSIONS_PAGE_SIZE = 2
    carol = UserFactory(username="carol")
    for number in range(3):
        services.discussion_create(repo=model, author=bob, title=f"Question {number}", description="?")
    closed = services.discussion_create(repo=model, author=carol, title="Old question", description="?")
    services.discussion_status_change(discussion=closed, actor=carol, status="closed")
    services.pull_request_open(repo=model, author=carol, title="Add notes", description="PR")
    api = HfApi()  # anonymous: the repo is public

    everything = list(api.get_repo_discussions("alice/model"))
    assert [d.num for d in everything] == [5, 4, 3, 2, 1]  # three pages of two
    assert everything[0].is_pull_request and everything[0].status == "draft" and everything[0].author == "carol"
    assert everything[1].status == "closed" and everything[1].title == "Old question"
    assert all(d.created_at.tzinfo is not None and d.repo_id == "alice/model" for d in everything)

    assert [d.num for d in api.get_repo_discussions("alice/model", discussion_type="pull_request")] == [5]
    assert [d.num for d in api.get_repo_discussions("alice/model", discussion_type="discussion")] == [4, 3, 2, 1]
    assert [d.num for d in api.get_repo_discussions("alice/model", discussion_status="closed")] == [4]
    assert [d.num for d in api.get_repo_discussions("alice/model", discussion_status="open")] == [5, 3, 2, 1]
    assert [d.num for d in api.get_repo_discussions("alice/model", author="bob")] == [3, 2, 1]
    assert list(api.get_repo_discussions("alice/model", author="nobody")) == []


def test_comment_rate_limit_answers_429_with_hub_headers(hub, model, bob, settings):
    settings.GATEHOUSE_COMMUNITY_POSTS_PER_WINDOW = 3
    api = HfApi(token=token_for(bob))
    api.create_discussion("alice/model", "Rate", description="first post")
    api.comment_discussion("alice/model", 1, "second")
    api.comment_discussion("alice/model", 1, "third")
    with pytest.raises(HfHubHTTPError) as caught:
        api.comment_discussion("alice/model", 1, "fourth")
    response = caught.value.response
    assert response.status_code == 429
    assert response.headers["RateLimit"].startswith('"api";r=0;t=')
    assert response.headers["RateLimit-Policy"] == '"fixed window";"api";q=3;w=300'
    assert Event.objects.filter(raw="fourth").count() == 0


def test_discussions_and_pull_requests_share_one_sequence_under_concurrency(hub, model, bob):
    from concurrent.futures import ThreadPoolExecutor

    api = HfApi(token=token_for(bob))

    def open_one(index: int) -> int:
        if index % 2:
            return api.create_pull_request("alice/model", f"PR {index}").num
        return api.create_discussion("alice/model", f"Thread {index}").num

    with ThreadPoolExecutor(max_workers=4) as pool:
        numbers = sorted(pool.map(open_one, range(8)))
    assert numbers == list(range(1, 9))
