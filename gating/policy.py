"""THE access decision for repos. Every view that touches a repo goes through `resolve_repo`;
listings go through `repos_visible_to`. Both are built from the same visibility expression.

Rules:
- Visibility: public repos are visible to everyone; private ones only to the owner and to members
  of the owning organisation. SECURITY: a repo the caller cannot see raises `RepoNotFound`, the
  very same error a missing repo raises, so responses cannot tell the two apart.
- Metadata (info, tree, refs, commits, card) needs visibility only, gated or not, as on the Hub.
- Participating (opening discussions and pull requests, commenting) needs visibility plus a
  signed-in caller whose token may write; gated repos take part like public ones, as on the Hub.
- File content needs visibility plus, on gated repos, a role on the repo or an approved request.
- Writes need a write or admin role *and* a token that allows writes (read tokens never write).
- Organisation roles, as on the Hub: `read` sees and downloads the org's repos (past their gates)
  and opens pull requests; `contributor` too, and creates repos in the org and writes to those it
  created (`repo_role_from_membership`); `write` writes to every repo of the org; `admin` also
  manages them and reviews their access requests. Creating repos: `can_create_in`.
- Managing (settings, delete, move, release plans) needs the admin role.
- Taken down by an operator (`Repo.disabled`, gating.takedown): content and posting are refused
  (`DisabledRepo`, with the reason) to everyone without a role on the repo; metadata stays.
  Operators reach any live repo to take it down or back (`resolve_repo_for_operator`).
- Reviewing access requests needs the admin role or a delegation as reviewer, and a write token.
- A new account whose email is not verified yet only reads (sees, downloads, previews, accepts
  licenses): creating repos, asking for access, participating, reviewing, writing and managing
  raise `EmailNotVerified` until it is (accounts that predate verification are waived).
- Gated repos: file content needs a role on the repo or an accepted, unexpired access request.
- Tokens (accounts.permissions, the Hub's names): every check above also asks whether the
  caller's credentials hold the permission the action needs on the repo (`ACTION_PERMISSION`):
  sessions and classic write tokens hold all, classic read tokens the reads, fine-grained tokens
  what their scopes name. SECURITY: out of a fine-grained token's scope the holder is a stranger
  (no role: `repo_role`), so a private repo is missing (404), a gated one asks for access (403),
  and a public one answers as to anyone. `canReadGatedRepos` reaches public gated repos.
- Staged release: files matching the current stage's withheld patterns stay closed to everyone
  without a role; previews follow content access unless the stage makes them public.
- Licenses that ask for acknowledgment (RAIL family, or the author's opt-in): file content at a
  revision needs a role or the user's acceptance of the license text in force at that revision.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, QuerySet

from accounts import permissions
from accounts.models import Membership, Organization, Role, User
from core import lookup_cache
from core.errors import (
    AuthenticationRequired,
    BadRequest,
    DisabledRepo,
    EmailNotVerified,
    Forbidden,
    GatedRepo,
    RepoMoved,
    RepoNotFound,
)
from core.names import fold, is_namespaceless_id, split_repo_id
from core.prepared import PreparedQuery
from gating import release
from gating.access_types import ANONYMOUS as ANONYMOUS

# The policy's vocabulary and its lookups are imported from here by every caller (`as`: re-exported).
from gating.access_types import ROLE_RANK, Action, DownloadDecision, Principal, RepoAccess, repo_entities, token_reaches
from gating.models import AccessRequest, RepoReviewer, RequestStatus
from gating.visibility import find_visible, moved_target, token_scope_q, visible_q
from gating.visibility import namespace_scope_q as namespace_scope_q
from gating.visibility import repos_visible_to as repos_visible_to
from licenses.selectors import RevisionLicense, has_acknowledged, license_to_acknowledge, unacknowledged_message
from registry import hooks
from registry.models import Repo, RepoRedirect, with_folded_id
from registry.selectors import Resolved, commit_tree_oid

# Organisation roles that may create repos in the organisation (a contributor then writes to them).
CREATOR_ROLES = (Role.CONTRIBUTOR, Role.WRITE, Role.ADMIN)


def namespace_role(principal: Principal, namespace: str) -> str | None:
    """Role in a namespace, for creating repos there: admin of one's own, the membership role in an org."""
    user = principal.user
    if user is None:
        return None
    if namespace.lower() == user.username.lower():  # names are unique whatever their case
        return Role.ADMIN
    return Membership.objects.filter(org__name__iexact=namespace, user=user).values_list("role", flat=True).first()


def is_verification_pending(principal: Principal) -> bool:
    return principal.user is not None and principal.user.is_verification_pending


def check_verified(principal: Principal) -> None:
    """SECURITY: a new account proves it reads mail at its address before it creates, asks or
    posts anything (sign-ups are cheap; what they make reaches other people)."""
    if is_verification_pending(principal):
        raise EmailNotVerified()


# The permission each repo action needs from the caller's credentials (besides the role).
ACTION_PERMISSION: dict[Action, str] = {
    Action.DOWNLOAD: permissions.REPO_CONTENT_READ,
    Action.PREVIEW: permissions.REPO_CONTENT_READ,
    Action.PARTICIPATE: permissions.DISCUSSION_WRITE,
    Action.PUSH: permissions.DISCUSSION_WRITE,  # or repo.write: _check_pusher
    Action.REVIEW_READ: permissions.REPO_ACCESS_READ,
    Action.REVIEW: permissions.REPO_WRITE,
    Action.WRITE: permissions.REPO_WRITE,
    Action.MANAGE: permissions.REPO_WRITE,
}
_READ_ONLY = "This token is read-only: create a token with the write role to {what}."


def namespace_entities(principal: Principal, namespace: str) -> tuple[tuple[str, int | None], ...]:
    """The entity a namespace is, for token permissions: the caller's own user, or an org."""
    user = principal.user
    if user is not None and namespace.lower() == user.username.lower():
        return ((permissions.USER, user.pk),)
    org_id = Organization.objects.filter(name__iexact=namespace).values_list("pk", flat=True).first()
    return ((permissions.ORG, org_id),)


def holds(principal: Principal, permission: str, entities: tuple[tuple[str, int | None], ...]) -> bool:
    return permission in principal.permissions_on(*entities)


def check_token(
    principal: Principal, permission: str, entities: tuple[tuple[str, int | None], ...], *, what: str, where: str = ""
) -> None:
    """Raise Forbidden unless the caller's credentials hold `permission` on `entities`: the one
    check of token permissions, for repo actions (`check`) and the routes outside repos
    (webhooks, collections, license acceptance). `what` completes the read-only message."""
    if holds(principal, permission, entities):
        return
    if principal.user is None:
        raise AuthenticationRequired()
    if principal.is_fine_grained:
        on = f" on {where}" if where else ""
        raise Forbidden(f"This fine-grained token does not have the permission {permission}{on}.")
    raise Forbidden(_READ_ONLY.format(what=what))


def check_may_run_inference(principal: Principal) -> None:
    """Asking for a preview runs the model in the user's name (the Hub's inference): sessions and
    classic tokens may; a fine-grained token needs inference.serverless.write on its own user."""
    own = ((permissions.USER, principal.user.pk if principal.user else None),)
    check_token(principal, permissions.INFERENCE_SERVERLESS_WRITE, own, what="request previews", where="your account")


def can_create_in(principal: Principal, namespace: str) -> bool:
    """Creating repos in a namespace: one's own, or an organisation where one is a contributor,
    writer or admin (as on the Hub; readers may not), with credentials that hold repo.write there."""
    if is_verification_pending(principal) or namespace_role(principal, namespace) not in CREATOR_ROLES:
        return False
    return holds(principal, permissions.REPO_WRITE, namespace_entities(principal, namespace))


def check_name_takeover(principal: Principal, repo_type: str, namespace: str, name: str) -> None:
    """Before a repo is created at, or moved to, `namespace/name`. SECURITY (found by an outsider
    attack): a name that redirects to a moved repo keeps old links, clones and scripts working;
    whoever takes it serves their content to all of them (a contributor could take an org's
    renamed repo's old id). Only an admin of the namespace may take such a name."""
    folded = {"folded_namespace": fold(namespace), "folded_name": fold(name)}
    if not with_folded_id(RepoRedirect.objects.all(), repo_type=repo_type, **folded).exists():
        return
    if namespace_role(principal, namespace) != Role.ADMIN:
        raise Forbidden(
            f"'{namespace}/{name}' redirects to a repo that was moved; only an admin of {namespace} may take the name."
        )


def can_manage_org(principal: Principal, org_id: int) -> bool:
    """An organisation's settings, members, roles and invitations: its admins (a session, or a
    write token)."""
    if principal.user is None or not principal.may_write or is_verification_pending(principal):
        return False  # SECURITY: invitations mail other people: a verified address first
    return Membership.objects.filter(org_id=org_id, user=principal.user, role=Role.ADMIN).exists()


def repo_role_from_membership(org_role: str | None, repo: Repo, user_pk: int) -> str | None:
    """The role an organisation member holds on one of its repos. As on the Hub, a `contributor`
    writes only to the repos they created (`Repo.created_by`) and reads the others (sees the
    private ones, downloads past the gate, opens pull requests and pushes to their own); `read`,
    `write` and `admin` hold on every repo of the organisation."""
    if org_role == Role.CONTRIBUTOR:
        return Role.WRITE if repo.created_by_id == user_pk else Role.READ
    return org_role


def repo_role(principal: Principal, repo: Repo) -> str | None:
    """The caller's role on the repo: admin for the owner, the role their membership gives them
    in the owning org (`repo_role_from_membership`); None for everyone else.
    SECURITY: none through a fine-grained token that does not reach the repo (`token_reaches`):
    out of its scope, the token's holder is a stranger to the repo."""
    user = principal.user
    if user is None or not token_reaches(principal, repo):
        return None
    if repo.owner_user_id is not None:
        return Role.ADMIN if repo.owner_user_id == user.pk else None
    # Kept per process until the repo or anything of the user's (a membership) changes.
    org_role = lookup_cache.remember(
        ("role", user.pk, repo.pk),
        lambda _role: (repo.pk, lookup_cache.user_scope(user.pk)),
        lambda: Membership.objects.filter(org_id=repo.owner_org_id, user=user).values_list("role", flat=True).first(),
    )
    return repo_role_from_membership(org_role, repo, user.pk)


def resolve_repo(
    principal: Principal, repo_type: str, repo_id: str, action: Action, *, revision_candidates: list[str] | None = None
) -> RepoAccess:
    """The repo, if `principal` may perform `action` on it; otherwise the error to answer with.
    `revision_candidates` (registry.selectors.revision_candidates) fetch the revision's ref too.
    Ids are case-insensitive; an id without a namespace (`gpt2`) is a repo that does not exist."""
    if is_namespaceless_id(repo_id):
        raise RepoNotFound(anonymous=principal.is_anonymous)
    namespace, name = split_repo_id(repo_id)
    access = find_visible(principal, repo_type, namespace, name, revision_candidates)
    if access is None:
        moved = moved_target(principal, repo_type, namespace, name)
        if moved is not None:
            raise RepoMoved(old_id=f"{namespace}/{name}", new_id=moved.repo_id)
        raise RepoNotFound(anonymous=principal.is_anonymous)
    check(access, action)
    return access


def resolve_repo_by_pk(principal: Principal, repo_pk: int, action: Action) -> RepoAccess:
    """`resolve_repo` for callers that hold a repo's key rather than its name (Xet tokens):
    a repo that is gone or no longer visible to `principal` is missing, as everywhere else."""
    repo = Repo.objects.filter(visible_q(principal), pk=repo_pk).first()
    if repo is None:
        raise RepoNotFound(anonymous=principal.is_anonymous)
    access = RepoAccess(principal, repo)
    check(access, action)
    return access


def is_operator(principal: Principal) -> bool:
    return principal.user is not None and principal.user.is_operator


def resolve_repo_for_operator(principal: Principal, repo_type: str, repo_id: str) -> Repo:
    """A live repo, private or not, for an operator to take down or put back. SECURITY: to anyone
    else (and for ids that name no live repo) it is missing, with the answer a missing repo gets;
    a write token is needed."""
    if not is_operator(principal) or not principal.may_write or is_namespaceless_id(repo_id):
        raise RepoNotFound(anonymous=principal.is_anonymous)
    namespace, name = split_repo_id(repo_id)
    folded = {"folded_namespace": fold(namespace), "folded_name": fold(name)}
    repo = with_folded_id(Repo.objects.filter(deleted_at__isnull=True), repo_type=repo_type, **folded).first()
    if repo is None:
        raise RepoNotFound(anonymous=principal.is_anonymous)
    return repo


def deleted_repos_restorable_by(principal: Principal) -> QuerySet[Repo]:
    """Deleted repos `principal` may restore or purge: an operator any, otherwise those they
    administer (their own, and those of the orgs they are an admin of). Write access only."""
    deleted = Repo.objects.filter(deleted_at__isnull=False)
    if principal.user is None or not (principal.may_write or principal.is_fine_grained):
        return deleted.none()
    scope = token_scope_q(principal, permissions.REPO_WRITE)
    if scope is not None:
        deleted = deleted.filter(scope)
    if is_operator(principal):
        return deleted
    admin_of = Membership.objects.filter(user=principal.user, role=Role.ADMIN).values("org_id")
    return deleted.filter(Q(owner_user=principal.user) | Q(owner_org_id__in=admin_of))


def resolve_deleted_repo(principal: Principal, repo_type: str, repo_id: str) -> Repo:
    """A deleted repo, for restoring or purging it. SECURITY: to anyone else it is missing, with
    the same answer as a repo that never existed (and a live repo is missing here too)."""
    namespace, name = split_repo_id(repo_id)
    restorable = deleted_repos_restorable_by(principal)
    folded = {"folded_namespace": fold(namespace), "folded_name": fold(name)}
    repo = with_folded_id(restorable, repo_type=repo_type, **folded).first()
    if repo is None:
        raise RepoNotFound(anonymous=principal.is_anonymous)
    return repo


def check(access: RepoAccess, action: Action) -> None:
    """Raise unless the caller, who can see the repo, may perform `action` on it."""
    principal, repo = access.principal, access.repo
    if repo.deleted_at is not None:
        # SECURITY: callers holding a repo found another way (signed upload URLs, jobs) stop here.
        raise RepoNotFound(anonymous=principal.is_anonymous)
    if action == Action.VIEW:
        return
    if action == Action.READ_DISCUSSIONS:
        # Found by an outsider attack: a taken-down repo's threads stayed readable to everyone,
        # and takedowns are often about what was pasted into them.
        if repo.disabled and access.role is None:
            raise DisabledRepo(repo.disabled_reason)
        return
    if action == Action.PARTICIPATE:
        _check_participant(access)
        return
    if action == Action.PUSH:
        _check_pusher(access)
        return
    if action in (Action.DOWNLOAD, Action.PREVIEW):
        if not repo.disabled and not repo.gated and (not repo.private or principal.fine_grained is None):
            return  # the hot path: public, ungated content needs no further query
        role = access.role
        if repo.disabled and role is None:
            raise DisabledRepo(repo.disabled_reason)
        if action == Action.PREVIEW and _previews_public(access):
            return
        if principal.fine_grained is not None:
            _check_fine_grained_read(access)
        if repo.gated and role is None:
            _check_gate(principal, repo)
        return
    role = access.role
    if principal.user is None:
        raise AuthenticationRequired()
    check_verified(principal)
    if action in (Action.REVIEW, Action.REVIEW_READ):
        if role != Role.ADMIN and not _is_reviewer(access):
            raise Forbidden(f"You are not a reviewer of {repo.repo_id}.")
    else:
        needed = Role.WRITE if action == Action.WRITE else Role.ADMIN
        if ROLE_RANK[role] < ROLE_RANK[needed]:
            raise Forbidden(f"You don't have {needed} access to {repo.repo_id}.")
    check_token(principal, ACTION_PERMISSION[action], repo_entities(repo), what="make changes", where=repo.repo_id)


def _is_reviewer(access: RepoAccess) -> bool:
    """A delegated reviewer; SECURITY: not through a fine-grained token out of its scope."""
    principal = access.principal
    if principal.fine_grained is not None and not principal.scoped_on(*repo_entities(access.repo)):
        return False
    return RepoReviewer.objects.filter(repo=access.repo, user=principal.user).exists()


def _check_fine_grained_read(access: RepoAccess) -> None:
    """Content of a private, gated or disabled repo through a fine-grained token: the token must
    name the repo (or its namespace) with repo.content.read, or, for a public gated repo, carry
    canReadGatedRepos. SECURITY: otherwise the answer a caller without access gets: asked for
    access on a gated repo, refused on the others (a private repo out of scope is already missing)."""
    principal, repo = access.principal, access.repo
    fine = principal.fine_grained
    if fine is None or holds(principal, permissions.REPO_CONTENT_READ, repo_entities(repo)):
        return
    if repo.gated and not repo.private:
        if fine.can_read_gated_repos:
            return
        raise GatedRepo(
            f"Access to {repo.repo_id} is restricted: this fine-grained token can read neither this repo "
            "(repo.content.read) nor gated repos (canReadGatedRepos).",
            anonymous=False,
        )
    raise Forbidden(f"This fine-grained token does not have the permission repo.content.read on {repo.repo_id}.")


@dataclass(frozen=True)
class CommitTarget:
    """Where a push lands, parsed once at the edge from the URL's revision and `create_pr`: a
    branch (`refs/heads/<branch>`), an open pull request (`refs/pr/N`, its own `branch`), or with
    `create_pr` a new pull request against `branch`. hf_xet names no branch for a new pull
    request (the literal "None"): `branch` is None then, the repo's default branch. A git push
    of a tag names its ref (`refs/tags/<tag>`, no branch): tags are written as branches are."""

    branch: str | None
    ref_name: str | None
    create_pr: bool

    @classmethod
    def parse(cls, revision: str, *, create_pr: bool) -> CommitTarget:
        if revision.startswith("refs/pr/"):
            return cls(branch=revision, ref_name=revision, create_pr=create_pr)
        if revision.startswith("refs/heads/"):
            revision = revision[len("refs/heads/") :]
        if create_pr and revision in ("None", ""):
            return cls(branch=None, ref_name=None, create_pr=True)
        return cls(branch=revision, ref_name=f"refs/heads/{revision}", create_pr=create_pr)

    @property
    def is_pull_request(self) -> bool:
        return self.create_pr or (self.ref_name or "").startswith("refs/pr/")


@dataclass(frozen=True)
class PushRights:
    """What `check_push` let through. `is_writer`: the caller may write the repo's branches; if
    not, they push to a pull request as a contributor, whose uploads draw from their daily quota
    (`registry.limits.charge_contributor`) and whose large files must be their own uploads.
    `may_rewrite`: a forced push (git's non-fast-forward) may replace the ref's history."""

    is_writer: bool
    may_rewrite: bool = False


def check_push(access: RepoAccess, target: CommitTarget) -> PushRights:
    """THE push rule, for preupload, commits, Xet write tokens, git pushes and (again, so that a
    revoked right stops an upload at once) Xet shard registration: branches need write access;
    pull requests are decided by the community app (`registry.hooks.pull_requests`):
    contributors may open them and push to their own.

    SECURITY: a forced push rewrites history: writers only, and never someone else's pull
    request (its author would lose their commits); the push is audited where it lands."""
    if not target.is_pull_request:
        check(access, Action.WRITE)
        return PushRights(is_writer=True, may_rewrite=True)
    if hooks.pull_requests is None:
        raise BadRequest("Pull requests are not supported by this hub.")
    if target.create_pr and target.ref_name is not None and target.ref_name.startswith("refs/pr/"):
        raise BadRequest("A pull request is opened against a branch, not against another pull request.")
    hooks.pull_requests.authorize_commit(access=access, ref_name=None if target.create_pr else target.ref_name)
    is_writer = can(access, Action.WRITE)
    user = access.principal.user
    may_rewrite = (
        is_writer
        and not target.create_pr
        and target.ref_name is not None
        and user is not None
        and hooks.pull_requests.opened_by(repo=access.repo, ref_name=target.ref_name) == user.pk
    )
    return PushRights(is_writer=is_writer, may_rewrite=may_rewrite)


def _check_participant(access: RepoAccess) -> None:
    principal = access.principal
    if principal.user is None:
        raise AuthenticationRequired()
    check_verified(principal)
    if access.repo.disabled and access.role is None:
        raise DisabledRepo(access.repo.disabled_reason)
    # SECURITY: posting is a write, so a read token cannot post either.
    check_token(
        principal, permissions.DISCUSSION_WRITE, repo_entities(access.repo), what="post", where=access.repo.repo_id
    )


def _check_pusher(access: RepoAccess) -> None:
    """The push routes' gate (commits, preupload, Xet write tokens, git receive-pack): a caller
    who may push somewhere, to a branch (repo.write) or to a pull request (discussion.write).
    `check_push` then decides where, once the target is known."""
    principal, repo = access.principal, access.repo
    if principal.user is None:
        raise AuthenticationRequired()
    check_verified(principal)
    if repo.disabled and access.role is None:
        raise DisabledRepo(repo.disabled_reason)
    held = principal.permissions_on(*repo_entities(repo))
    if permissions.REPO_WRITE in held or permissions.DISCUSSION_WRITE in held:
        return
    if principal.is_fine_grained:
        raise Forbidden(
            f"This fine-grained token does not have the permission repo.write on {repo.repo_id} "
            "(nor discussion.write, for pull requests)."
        )
    raise Forbidden(_READ_ONLY.format(what="push"))


def check_may_ask_access(access: RepoAccess) -> None:
    """Asking for access records a request in the user's name and mails the reviewers. The Hub
    takes requests from the browser only (hub-behaviour.md), so nothing there lets a read token
    do it; SECURITY: here, as for posting, a read token cannot. A fine-grained token may when it
    is meant to read the repo: it names it with repo.content.read, or reads gated repos. Nor an
    unverified new account."""
    check_verified(access.principal)
    check_may_commit_to_read(access, what="request access")


def check_may_commit_to_read(access: RepoAccess, *, what: str) -> None:
    """For commitments made in the user's name so as to read a repo (asking for access, accepting
    its license): a session or a classic write token; a fine-grained token that may read it."""
    principal = access.principal
    if principal.user is None:
        raise AuthenticationRequired()
    fine = principal.fine_grained
    if fine is None:
        if not principal.may_write:
            raise Forbidden(_READ_ONLY.format(what=what))
        return
    repo = access.repo
    if fine.can_read_gated_repos and repo.gated and not repo.private:
        return
    check_token(principal, permissions.REPO_CONTENT_READ, repo_entities(repo), what=what, where=repo.repo_id)


def _current_stage(access: RepoAccess):
    """The release stage in force; no query when the repo was found without a plan."""
    if access.has_release_plan is False:
        return None
    return release.current_stage(access.repo)


def check_file(access: RepoAccess, path: str, *, tree_oids: tuple[str | None, ...]) -> bool:
    """After `check(DOWNLOAD)`: files the current release stage still withholds, by path or, at
    the revisions whose trees are `tree_oids`, by content (the same bytes under another name).
    True when the file is withheld but the caller's role spares them."""
    stage = _current_stage(access)
    if stage is None:
        return False
    withheld = release.is_withheld(stage, path) or release.is_content_withheld(stage, path, tree_oids)
    if not withheld:
        return False
    if access.role is not None:
        return True
    when = " It is scheduled for a later release stage." if _next_stage_time(stage) else ""
    raise GatedRepo(
        f"The file {path} of {access.repo.repo_id} is withheld in the current release stage.{when}",
        anonymous=access.principal.is_anonymous,
    )


def check_license(access: RepoAccess, resolved: Resolved) -> bool:
    """After `check(DOWNLOAD)`, once the revision is known: when its license asks for
    acknowledgment (RAIL family, or the author opted in), files are served only to users who
    accepted the exact license text in force at that revision. Roles on the repo are exempt.
    True when the license asks and the caller passes (accepted, or exempt)."""
    current = license_to_acknowledge(access.repo, resolved, opt_in=access.acknowledgment_opt_in)
    if current is None:
        return False
    user = access.principal.user
    if access.role is not None or has_acknowledged(user, access.repo, current):
        return True
    raise GatedRepo(unacknowledged_message(user, access.repo, current), anonymous=access.principal.is_anonymous)


def may_read_license_text(access: RepoAccess, current: RevisionLicense) -> bool:
    """Whether the license page, API and access form may show `current`'s text to the caller.

    The text is in force at a writer's revision and comes from a file named as a license (or
    from the catalogue: licenses.selectors), so it is shown to whoever may see the repo, gated
    or license-gated alike: the caller must read it to accept it or to ask for access. SECURITY:
    a file the current release stage withholds from the caller stays withheld here too."""
    if current.file_path is None:
        return True
    try:
        check_file(access, current.file_path, tree_oids=(commit_tree_oid(access.repo, current.commit_oid),))
    except GatedRepo:
        return False
    return True


def check_download(access: RepoAccess, resolved: Resolved, path: str) -> DownloadDecision:
    """After `check(DOWNLOAD)`: the per-file and per-revision checks every download path makes
    (/resolve, the raw views, Xet reconstructions), in one pass that also tells whether the yes
    depended on the caller (an anonymous caller would have been refused)."""
    repo = access.repo
    spared = check_file(access, path, tree_oids=(resolved.tree_oid,))
    accepted = check_license(access, resolved)
    restricted = repo.private or bool(repo.gated) or repo.disabled
    return DownloadDecision(depends_on_caller=restricted or spared or accepted)


def check_clone(access: RepoAccess, revisions: list[Resolved], history: list[Resolved], files_of) -> None:
    """After `check(DOWNLOAD)`: git fetches whole trees and cannot leave one file out, so a clone
    or fetch is served only to a caller who could `/resolve` every regular file it would carry.
    `revisions` are the refs asked for, `history` every commit the pack may carry (their
    ancestors, down to a shallow boundary); `files_of(tree_oid)` lists a tree's file paths.

    Licenses are judged at each ref and at every tree of the history, whatever the refs' own
    licenses say (a repo relicensed from RAIL to MIT still carries the RAIL-era files, and an
    older text in force there needs its own acceptance); withheld files, by path and by content,
    at every tree of the history. Raises the error `/resolve` would raise for the first file
    refused."""
    for resolved in revisions:
        check_license(access, resolved)
    if access.role is None:
        judged: set[str] = set()
        for resolved in history:
            if resolved.tree_oid not in judged:
                judged.add(resolved.tree_oid)
                check_license(access, resolved)
    if _current_stage(access) is None or access.role is not None:
        return
    seen: set[str] = set()
    for resolved in (*revisions, *history):
        if resolved.tree_oid in seen:
            continue
        seen.add(resolved.tree_oid)
        for path in files_of(resolved.tree_oid):
            check_file(access, path, tree_oids=(resolved.tree_oid,))


def check_preview_files(
    access: RepoAccess, paths: list[str], resolved: Resolved | None = None, *, tree_oid: str | None
) -> None:
    """After `check(PREVIEW)`: a preview loads these files, so it is refused while the current
    release stage withholds any of them from the caller, or while the revision's license awaits
    the caller's acknowledgment, unless the stage makes previews public."""
    if _previews_public(access):
        return
    for path in paths:
        check_file(access, path, tree_oids=(tree_oid,))
    if resolved is not None:
        check_license(access, resolved)


def _next_stage_time(stage) -> bool:
    return stage.plan.stages.filter(position__gt=stage.position, scheduled_at__isnull=False).exists()


def _previews_public(access: RepoAccess) -> bool:
    stage = _current_stage(access)
    return stage is not None and stage.previews_public


def can(access: RepoAccess, action: Action) -> bool:
    try:
        check(access, action)
    except (AuthenticationRequired, Forbidden, GatedRepo, DisabledRepo):
        return False
    return True


def ask_access_url(repo: Repo) -> str:
    return f"{settings.GATEHOUSE_PUBLIC_URL}{repo.web_path}/ask-access"


# Every download of a gated file looks up the caller's request; (repo, user) is unique.
_ACCESS_REQUEST = PreparedQuery(
    lambda repo_id, user_id: AccessRequest.objects.filter(repo_id=repo_id, user_id=user_id)[:1]
)


def access_state(user: User, repo: Repo) -> tuple[str, AccessRequest | None]:
    """'none', 'pending', 'rejected', 'expired' or 'accepted', and the request row if any."""
    # Kept per process until the repo or anything of the user's (their requests) changes; the
    # grant's expiry is compared with the clock here, on every call.
    request = lookup_cache.remember(
        ("grant", repo.pk, user.pk),
        lambda _request: (repo.pk, lookup_cache.user_scope(user.pk)),
        lambda: next(iter(_ACCESS_REQUEST(repo_id=repo.pk, user_id=user.pk)), None),
    )
    if request is None:
        return "none", None
    if request.status == RequestStatus.ACCEPTED and request.is_expired():
        return "expired", request
    return request.status, request


def _check_gate(principal: Principal, repo: Repo) -> None:
    """Gated repos: an accepted, unexpired request is the grant. The message says why not."""
    kind = "dataset" if repo.repo_type == "dataset" else "model"
    if principal.user is None:
        raise GatedRepo(
            f"Access to {kind} {repo.repo_id} is restricted. You must have access to it and be "
            f"authenticated to access it. Please log in, then visit {ask_access_url(repo)} to ask for access.",
            anonymous=True,
        )
    state, request = access_state(principal.user, repo)
    if state == "accepted":
        return
    url = ask_access_url(repo)
    reasons = {
        "none": f"you have not requested access yet. Visit {url} to ask for access.",
        "pending": f"your request is pending review. Visit {url} to see its status.",
        "rejected": "your request to access this repo has been rejected by the repo's authors"
        + (f" ({request.rejection_reason})." if request and request.rejection_reason else "."),
        "expired": f"your access expired. Visit {url} to ask for access again.",
    }
    raise GatedRepo(
        f"Access to {kind} {repo.repo_id} is restricted and you are not in the authorized list: {reasons[state]}",
        anonymous=False,
    )


def could_see_before_deletion(principal: Principal, repo: Repo) -> bool:
    """Whether `principal` could see `repo` just before it was deleted (the visibility rule of
    `visible_q`, minus the deletion): who may be told that a repo they watched was deleted."""
    if not repo.private:
        return True
    return repo_role(principal, repo) is not None


@dataclass(frozen=True)
class MirroredFacts:
    """What the mirror (mirror/) learnt of an upstream repo for one caller. SECURITY: the
    upstream's answers were asked with the caller's own upstream token or anonymously, never the
    operator's (mirror/credentials.py), so they are the caller's own rights there."""

    is_visible: bool  # the upstream showed the repo's metadata to the caller's credentials
    rule_refusal: str | None = None  # the operator's repo-id rules (GATEHOUSE_UPSTREAMS)
    license_refusal: str | None = None  # the operator's license rules, for content
    # The upstream's typed refusal of the file (HEAD); None also where the caller's refusal was a
    # gate whose terms an operator accepted on the organisation's behalf (mirror MirrorAcceptance,
    # recorded, named by each pull it allows; signed-in callers, never a repo hidden from them).
    download_refusal: Exception | None = None
    # Why the caller must first accept, here, the license in force at the commit downloaded
    # (a license our catalogue says needs acknowledgment: mirror.license_gate); None when none.
    license_unacknowledged: str | None = None


def check_mirrored(principal: Principal, facts: MirroredFacts, action: Action) -> None:
    """Raise unless `principal` may perform `action` on a mirrored repo. Mirrored repos are
    read-only here (uploads, pull requests, discussions go to the upstream); a repo the upstream
    hides from the caller is missing, exactly like a missing local repo; metadata needs
    visibility and the operator's repo rules; content needs the upstream's yes to the caller's
    own credentials for that revision and file, the operator's license rules, and the caller's
    acceptance here of a license that needs acknowledgment (as for local repos). Managing the
    mirror's copy (purging it) is for operators, with a write token or a session."""
    if action == Action.MANAGE and is_operator(principal) and principal.may_write:
        return
    if action not in (Action.VIEW, Action.DOWNLOAD):
        raise Forbidden(
            "This repo is mirrored from an upstream hub and is read-only here: uploads, pull requests "
            "and discussions go to the upstream.",
            code="MirrorReadOnly",
        )
    if not facts.is_visible:
        raise RepoNotFound(anonymous=principal.is_anonymous)
    if facts.rule_refusal:
        raise Forbidden(facts.rule_refusal, code="MirrorRuleRefused")
    if action == Action.DOWNLOAD:
        if facts.license_refusal:
            raise Forbidden(facts.license_refusal, code="MirrorRuleRefused")
        if facts.download_refusal is not None:
            raise facts.download_refusal
        if facts.license_unacknowledged:
            # The typed error a local repo's unaccepted license gives (check_license).
            raise GatedRepo(facts.license_unacknowledged, anonymous=principal.is_anonymous)
