"""Tree listings and paths-info."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import FormParser
from rest_framework.response import Response

from core import bodies, edge
from core.api import JSONParser
from core.errors import BadRequest, EntryNotFound
from core.pagination import next_page_link, page_bounds
from gating.policy import Action
from gating.repo_views import RepoAPIView
from registry.api import schema
from registry.api.serializers import TreeItem, last_commit_item, tree_item
from registry.git import trees
from registry.git.paths import validate_path
from registry.selectors import (
    Resolved,
    entry_sha256,
    last_commits,
    resolve_revision,
    scans_for,
    security_status,
    split_revision_path,
)
from registry.storage import content

EXPANDED_PAGE_SIZE = 100


def expanded_items(view: RepoAPIView, resolved: Resolved, pairs: list[tuple[str, trees.Entry]]) -> list[TreeItem]:
    """Tree items with `lastCommit` (and, for files, `securityFileStatus`)."""
    found = last_commits(view.repo, resolved.commit_oid, [path for path, _ in pairs])
    scans = scans_for(entry_sha256(entry) for _, entry in pairs if entry["type"] == "file")
    xet_hashes = _xet_hashes(pairs)
    items = []
    for path, entry in pairs:
        item = tree_item(path, entry, xet_hashes)
        if path in found:
            item["lastCommit"] = last_commit_item(found[path])
        if entry["type"] == "file":
            item["securityFileStatus"] = security_status(entry, scans)
        items.append(item)
    return items


def _xet_hashes(pairs: list[tuple[str, trees.Entry]]) -> dict[str, str]:
    return content.xet_hashes_of(entry["lfs"]["sha256"] for _, entry in pairs if entry.get("lfs"))


def plain_items(pairs: list[tuple[str, trees.Entry]]) -> list[TreeItem]:
    xet_hashes = _xet_hashes(pairs)
    return [tree_item(path, entry, xet_hashes) for path, entry in pairs]


class TreeView(RepoAPIView):
    """GET /api/{type}s/{ns}/{name}/tree/{rev}[/{path}]?recursive=&expand=, paginated by Link."""

    @extend_schema(parameters=schema.TREE_PARAMETERS, responses=schema.TreeItemSerializer(many=True))
    def get(self, request, namespace, name, rest, repo_type=None):
        resolved, path = split_revision_path(self.repo, rest, path_required=False)
        path = path.strip("/")
        if path:
            validate_path(path)
        entry = trees.find_entry(resolved.tree_oid, path)
        if entry is None or entry["type"] != "directory":
            raise EntryNotFound(f"{path or '/'}: no such folder at this revision", commit_oid=resolved.commit_oid)
        expand = edge.query_flag(request, "expand")
        recursive = edge.query_flag(request, "recursive")
        default_size = EXPANDED_PAGE_SIZE if expand else settings.GATEHOUSE_TREE_PAGE_SIZE
        offset, size = page_bounds(request, default_size=default_size, max_size=default_size)
        prefix = f"{path}/" if path else ""
        listing = trees.iter_entries(entry["oid"], prefix, recursive=recursive)
        pairs: list[tuple[str, trees.Entry]] = []
        has_more = False
        for index, pair in enumerate(listing):
            if index < offset:
                continue
            if len(pairs) == size:
                has_more = True
                break
            pairs.append(pair)
        items = expanded_items(self, resolved, pairs) if expand else plain_items(pairs)
        response = Response(items)
        if has_more:
            response["Link"] = next_page_link(request, offset + size)
        return response


class PathsInfoView(RepoAPIView):
    """POST /api/{type}s/{ns}/{name}/paths-info/{rev} with form fields `paths` (repeated), `expand`.
    Missing paths are left out of the answer, as on the Hub."""

    repo_actions = {"POST": Action.VIEW}
    # SECURITY: the Hub client sends a urlencoded form; no multipart parser, so no temp files.
    parser_classes = [FormParser, JSONParser]
    body_policy = bodies.LARGE
    MAX_PATHS = 10000

    @extend_schema(request=schema.PathsInfoSerializer, responses=schema.TreeItemSerializer(many=True))
    def post(self, request, namespace, name, revision, repo_type=None):
        resolved = resolve_revision(self.repo, revision)
        data = request.data
        if not hasattr(data, "get"):  # a JSON body that is not an object
            raise BadRequest("Expected form fields (or a JSON object) with 'paths'.")
        paths = data.getlist("paths") if hasattr(data, "getlist") else data.get("paths", [])
        if isinstance(paths, str):
            paths = [paths]
        if not isinstance(paths, list) or len(paths) > self.MAX_PATHS:
            raise BadRequest(f"'paths' must be a list of at most {self.MAX_PATHS} paths.")
        if not all(isinstance(raw, str) for raw in paths):
            raise BadRequest("Each of 'paths' must be a string.")
        pairs: list[tuple[str, trees.Entry]] = []
        for raw in dict.fromkeys(paths):
            path = validate_path(raw.strip("/"))
            entry = trees.find_entry(resolved.tree_oid, path)
            if entry is not None:
                pairs.append((path, entry))
        if edge.flag(data.get("expand", "false")):
            return Response(expanded_items(self, resolved, pairs))
        return Response(plain_items(pairs))
