"""The Hub's JSON for collections (hf_api.Collection and CollectionItem read it), built from
what the selectors let the caller see."""

from __future__ import annotations

from django.conf import settings
from django.utils.html import escape

from community.models import Collection, CollectionItem
from core.timeutil import isoformat_z


def owner_json(collection: Collection) -> dict:
    user, org = collection.owner_user, collection.owner_org
    if user is not None:
        return {
            "_id": f"{user.pk:024x}",
            "name": user.username,
            "fullname": user.display_name,
            "type": "user",
            "avatarUrl": None,
            "isPro": False,
        }
    assert org is not None
    return {
        "_id": f"{org.pk:024x}",
        "name": org.name,
        "fullname": org.fullname or org.name,
        "type": "org",
        "avatarUrl": None,
        "isEnterprise": False,
    }


def item_json(item: CollectionItem, position: int) -> dict:
    data: dict = {"_id": item.public_id, "type": item.item_type, "position": position}
    repo, target = item.repo, item.target
    if repo is not None:
        data.update(
            {
                "id": repo.repo_id,
                "author": repo.namespace,
                "repoType": repo.repo_type,
                "private": repo.private,
                "gated": repo.gated or False,
                "disabled": repo.disabled,
                "downloads": repo.downloads,
                "likes": repo.likes,
                "lastModified": isoformat_z(repo.last_modified),
            }
        )
    elif target is not None:
        data.update(
            {
                "id": target.public_id,
                "slug": target.slug,
                "title": target.title,
                "owner": owner_json(target),
                "private": target.private,
                "theme": target.theme,
                "lastUpdated": isoformat_z(target.last_updated),
            }
        )
    if item.note:
        data["note"] = {"text": item.note, "html": escape(item.note)}
    return data


def collection_json(collection: Collection, items: list[CollectionItem]) -> dict:
    """`items` are the visible ones, in order; their positions are their ranks among them."""
    data = {
        "slug": collection.slug,
        "title": collection.title,
        "owner": owner_json(collection),
        "items": [item_json(item, position) for position, item in enumerate(items)],
        "lastUpdated": isoformat_z(collection.last_updated),
        "position": collection.position,
        "private": collection.private,
        "theme": collection.theme,
        "upvotes": collection.upvotes,
        "isUpvotedByUser": False,
        "gating": False,
        "shareUrl": f"{settings.GATEHOUSE_PUBLIC_URL}/collections/{collection.slug}",
    }
    if collection.description:
        data["description"] = collection.description
    return data
