"""Portal pages for browsing repos: home and search, repo page, files, commits, namespaces."""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Value
from django.db.models.functions import Concat
from django.shortcuts import redirect, render
from django.views import View

from accounts.models import Membership, Organization, User
from core.bytecache import memo_by_bytes
from core.errors import ContentQuarantined, EntryNotFound, HubError, NotFound
from core.pagination import MAX_OFFSET
from core.views import render_error
from gating.policy import Principal, check_file, check_license, repos_visible_to
from gating.repo_views import PortalRepoView
from registry import hooks
from registry.cards.modelcard import CardSummary
from registry.git import trees
from registry.git.paths import validate_path
from registry.models import PLURAL_TYPES, Repo, RepoType
from registry.selectors import (
    card_html_at,
    card_summary_at,
    entry_sha256,
    history,
    quarantined_files,
    read_small_file,
    resolve_revision,
    scans_for,
    split_revision_path,
)

TEXT_PREVIEW_LIMIT = 512 * 1024


def resolve_url(repo: Repo, revision: str, path: str) -> str:
    return f"{repo.web_path}/resolve/{quote(revision, safe='')}/{quote(path)}"


def search_repos(request, repo_type: str):
    queryset = repos_visible_to(Principal.from_request(request)).filter(repo_type=repo_type)
    term = request.GET.get("search", "").strip()
    if term:
        queryset = queryset.annotate(full_id=Concat("namespace", Value("/"), "name")).filter(full_id__icontains=term)
    sort = {"downloads": "-downloads", "created": "-created_at"}.get(request.GET.get("sort", ""), "-last_modified")
    return queryset.order_by(sort, "-pk"), term


class HomeView(View):
    def get(self, request):
        queryset, term = search_repos(request, RepoType.MODEL)
        return render(request, "registry/home.html", {"repos": queryset[:20], "search": term})


class RepoListPage(View):
    def get(self, request, repo_type: str):
        queryset, term = search_repos(request, PLURAL_TYPES[repo_type])
        page = Paginator(queryset, 30).get_page(request.GET.get("page"))
        return render(
            request,
            "registry/list.html",
            {"page": page, "search": term, "repo_type": PLURAL_TYPES[repo_type], "plural": repo_type},
        )


class RepoPage(PortalRepoView):
    def get(self, request, namespace, name, repo_type=None):
        resolved = resolve_revision(self.repo, self.repo.default_branch)
        try:
            card_html = card_html_at(resolved.tree_oid, repo_pk=self.repo.pk)
            summary = card_summary_at(self.repo.pk, resolved.tree_oid)
        except ContentQuarantined:  # the notice below says so; the rest of the page still helps
            card_html, summary = "", CardSummary()
        context = self.base_context(resolved)
        scanned = flagged_files(resolved.tree_oid)
        context.update(
            {
                "flagged": [(path, status) for path, status in scanned if status != "queued"],
                "scan_pending": sum(status == "queued" for _, status in scanned),
                "quarantined": quarantined_files(self.repo, resolved) if context["can_write"] else [],
                "card_html": card_html,
                "card": summary,
                "entries": self._entries(resolved, ""),
                "path": "",
                "tab": "card",
                "sidebar_panels": [panel(request, self.access, resolved) for panel in hooks.repo_sidebar_panels],
                # githttp serves git at the repo's web path, as the Hub does.
                "clone_url": (settings.GATEHOUSE_PUBLIC_URL or request.build_absolute_uri("/").rstrip("/"))
                + self.repo.web_path,
            }
        )
        return render(request, "registry/repo.html", context)

    def _entries(self, resolved, path: str) -> Page:
        return directory_listing(self.repo, resolved, path)


LISTING_CACHE_BYTES = 8 * 1024 * 1024


@memo_by_bytes(LISTING_CACHE_BYTES)
def _listing_order(tree_oid: str, prefix: str) -> tuple[tuple[str, trees.Entry], ...]:
    """A folder's (path, entry) pairs as the portal lists them, folders first, by name; trees never
    change, so each order is worked out once per process (within LISTING_CACHE_BYTES: found by an
    outsider attack, 256 listings of 9,000-file folders took 235 MB a process under a count bound)."""
    return tuple(
        sorted(
            trees.iter_entries(tree_oid, prefix, recursive=False),
            key=lambda pair: (pair[1]["type"] != "directory", pair[1]["name"].lower()),
        )
    )


def directory_listing(repo: Repo, resolved, path: str, page_number: str | None = None) -> Page:
    """One page of a folder's entries, folders first, by name: a folder of 10,000 files is read
    whole from its tree row, but only the page's rows are described (scans, URLs) and rendered."""
    entry = trees.find_entry(resolved.tree_oid, path)
    if entry is None or entry["type"] != "directory":
        raise EntryNotFound(commit_oid=resolved.commit_oid)
    children = _listing_order(entry["oid"], f"{path}/" if path else "")
    page = Paginator(children, settings.GATEHOUSE_PORTAL_PAGE_SIZE).get_page(page_number)
    scans = scans_for(entry_sha256(child) for _, child in page.object_list if child["type"] == "file")
    rows = []
    for child_path, child in page.object_list:
        scan = scans.get(entry_sha256(child)) if child["type"] == "file" else None
        rows.append(
            {
                "path": child_path,
                "name": child["name"],
                "is_dir": child["type"] == "directory",
                "size": child.get("size", 0),
                "is_lfs": bool(child.get("lfs")),
                "download_url": resolve_url(repo, resolved.revision, child_path) if child["type"] == "file" else "",
                "scan_status": (scan.status if scan else "unscanned") if child["type"] == "file" else "",
            }
        )
    return Page(rows, page.number, page.paginator)


def flagged_files(tree_oid: str) -> list[tuple[str, str]]:
    """(path, status) of files whose scan is anything but safe, for the repo page's warning; a file
    with no scan on record is `unscanned`."""
    files = list(trees.iter_files(tree_oid))
    scans = scans_for(entry_sha256(entry) for _, entry in files)
    flagged = []
    for path, entry in files:
        scan = scans.get(entry_sha256(entry))
        status = scan.status if scan is not None else "unscanned"
        if status != "safe":
            flagged.append((path, status))
    return flagged


def breadcrumbs(path: str) -> list[tuple[str, str]]:
    parts = path.split("/") if path else []
    return [(part, "/".join(parts[: index + 1])) for index, part in enumerate(parts)]


class TreePage(PortalRepoView):
    def get(self, request, namespace, name, rest, repo_type=None):
        resolved, path = split_revision_path(self.repo, rest, path_required=False)
        path = path.strip("/")
        if path:
            validate_path(path)
        context = self.base_context(resolved)
        context.update(
            {
                "entries": directory_listing(self.repo, resolved, path, request.GET.get("page")),
                "path": path,
                "crumbs": breadcrumbs(path),
                "tab": "files",
            }
        )
        return render(request, "registry/tree.html", context)


class BlobPage(PortalRepoView):
    def get(self, request, namespace, name, rest, repo_type=None):
        resolved, path = split_revision_path(self.repo, rest, path_required=True)
        validate_path(path)
        entry = trees.find_entry(resolved.tree_oid, path)
        if entry is None or entry["type"] != "file":
            raise EntryNotFound(commit_oid=resolved.commit_oid)
        context = self.base_context(resolved)
        if context["can_download"]:
            try:
                check_file(self.access, path, tree_oids=(resolved.tree_oid,))
                check_license(self.access, resolved)
            except HubError as exc:
                context["can_download"] = False
                context["gate_message"] = exc.message
        text = None
        if context["can_download"] and not entry.get("lfs") and entry["size"] <= TEXT_PREVIEW_LIMIT:
            data = read_small_file(entry, repo_pk=self.repo.pk)
            if data is not None and b"\0" not in data[:8000]:
                text = data.decode("utf-8", "replace")
        context.update(
            {
                "entry": entry,
                "scan": scans_for([entry_sha256(entry)]).get(entry_sha256(entry)),
                "path": path,
                "crumbs": breadcrumbs(path),
                "text": text,
                "download_url": resolve_url(self.repo, resolved.revision, path),
                "tab": "files",
            }
        )
        return render(request, "registry/blob.html", context)


class CommitsPage(PortalRepoView):
    def get(self, request, namespace, name, revision, repo_type=None):
        resolved = resolve_revision(self.repo, revision)
        size = settings.GATEHOUSE_COMMITS_PAGE_SIZE
        try:
            page_number = min(max(int(request.GET.get("page", "1")), 1), MAX_OFFSET // size)
        except ValueError:  # not a number, or thousands of digits
            page_number = 1
        commits, has_more = history(self.repo, resolved.commit_oid, offset=(page_number - 1) * size, limit=size)
        context = self.base_context(resolved)
        context.update({"commits": commits, "page_number": page_number, "has_more": has_more, "tab": "commits"})
        return render(request, "registry/commits.html", context)


class NamespacePage(View):
    """A user's or an organisation's page: who they are and the repos the viewer may see."""

    def get(self, request, namespace):
        # Names are unique whatever their case (as repo ids are read): `/ALICE` is alice's page,
        # at its canonical address.
        user = User.objects.filter(username__iexact=namespace, is_active=True).first()
        org = None if user else Organization.objects.filter(name__iexact=namespace).first()
        if user is None and org is None:
            return render_error(request, NotFound("No such user or organisation"))
        canonical = user.username if user else org.name  # type: ignore[union-attr]
        if canonical != namespace:
            return redirect("registry:namespace", namespace=canonical)
        repos = (
            repos_visible_to(Principal.from_request(request))
            .filter(namespace__iexact=namespace)
            .order_by("-last_modified")
        )
        context = {"profile_user": user, "org": org, "repos": repos, "namespace": namespace}
        if org is not None:
            memberships = Membership.objects.filter(org=org).select_related("user").order_by("user__username")
            context["memberships"] = memberships
            context["is_org_admin"] = (
                request.user.is_authenticated and memberships.filter(user=request.user, role="admin").exists()
            )
        else:
            context["orgs"] = Organization.objects.filter(memberships__user=user).order_by("name")
        return render(request, "registry/namespace.html", context)
