"""What community holds of an account that deleting it erases (accounts.erasure): its likes (the
repos' counts follow), the repos it watches, its collections. Its threads and comments stay, under
the tombstone's name: they are part of the repos' history, and moderators hide what must go."""

from __future__ import annotations

from accounts.models import User
from community.collections.services import collection_delete
from community.likes.services import like_delete
from community.models import Collection, Like, Watch


def community_erase(user: User) -> None:
    for like in Like.objects.filter(user=user).select_related("repo"):
        like_delete(user=user, repo=like.repo)
    Watch.objects.filter(user=user).delete()
    for collection in Collection.objects.filter(owner_user=user):
        collection_delete(collection=collection)
