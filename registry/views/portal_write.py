"""Portal pages that publish: new repo, upload files and folders, edit the card, delete files,
manage branches and tags. Each change is a commit with a message, through the same services and
the same policy as the API."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.views import View

from accounts.models import Membership
from core import bodies
from core.errors import BadRequest, HubError
from core.middleware import CONTENT_SECURITY_POLICY
from gating.policy import CREATOR_ROLES, Action, Principal, can_create_in, check_name_takeover, check_verified
from gating.repo_views import PortalRepoView
from registry import limits, services
from registry.cards.metadata_validation import validate_card_text
from registry.git.paths import validate_path
from registry.models import RepoType
from registry.selectors import gitattributes_at, list_refs, read_text_at, resolve_revision
from registry.storage import get_storage, s3uploads

MAX_PORTAL_FILES = 500


class NewRepoForm(forms.Form):
    namespace = forms.ChoiceField(label="Owner")
    name = forms.CharField(max_length=96)
    repo_type = forms.ChoiceField(choices=RepoType.choices, initial=RepoType.MODEL, label="Type")
    # Empty: the owner's default (an organisation may make new repos private by default).
    visibility = forms.ChoiceField(
        choices=[("", "The owner's default"), ("public", "Public"), ("private", "Private")], required=False
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        orgs = Membership.objects.filter(user=user, role__in=CREATOR_ROLES).values_list("org__name", flat=True)
        namespace = self.fields["namespace"]
        assert isinstance(namespace, forms.ChoiceField)  # self.fields is typed as plain Fields
        namespace.choices = [(user.username, user.username)] + [(name, name) for name in orgs]


class NewRepoView(LoginRequiredMixin, View):
    def get(self, request):
        return render(request, "registry/new_repo.html", {"form": NewRepoForm(user=request.user)})

    def post(self, request):
        form = NewRepoForm(request.POST, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                check_verified(Principal.from_request(request))
                if not can_create_in(Principal.from_request(request), data["namespace"]):
                    raise HubError("You cannot create repos in this namespace.", status=403)
                check_name_takeover(Principal.from_request(request), data["repo_type"], data["namespace"], data["name"])
                repo = services.repo_create(
                    namespace=data["namespace"],
                    name=data["name"],
                    repo_type=data["repo_type"],
                    private={"": None, "public": False, "private": True}[data["visibility"]],
                    creator=request.user,
                )
            except HubError as exc:
                form.add_error(None, exc.message)
            else:
                return redirect(repo.web_path)
        return render(request, "registry/new_repo.html", {"form": form}, status=400)


class PortalWriteView(PortalRepoView):
    repo_actions = {"GET": Action.WRITE, "POST": Action.WRITE}

    def commit(self, *, branch: str, operations: list, summary: str, description: str = "") -> bool:
        with self.flashing_errors() as outcome:
            services.commit_create(
                repo=self.repo,
                branch=branch,
                operations=operations,
                summary=summary,
                description=description,
                author=self.principal.user,
            )
        if outcome.failed:
            return False
        messages.success(self.request, "Committed.")
        return True


def _join(directory: str, relative: str) -> str:
    return "/".join(part for part in (directory.strip("/"), relative.strip("/")) if part)


class UploadView(PortalWriteView):
    """Upload files, or a whole folder (the browser sends each file's relative path).

    A refused upload (a bad path, a file or commit over the limits) stores nothing and shows the
    page again with the reason and the commit message the author typed."""

    body_policy = bodies.PORTAL_UPLOAD

    def get(self, request, namespace, name, revision, repo_type=None):
        return self._page(revision, {"directory": request.GET.get("directory", "")})

    def _page(self, revision: str, form: dict, status: int = 200):
        context = self.base_context(resolve_revision(self.repo, revision))
        context.update({"tab": "files", "form": form, "directory": form.get("directory", "")})
        response = render(self.request, "registry/upload.html", context, status=status)
        if get_storage().serves_signed_urls:
            # SECURITY: the page's script may connect to the bucket's presigned URLs, nowhere else.
            origin = s3uploads.upload_origin()
            response["Content-Security-Policy"] = f"{CONTENT_SECURITY_POLICY}; connect-src 'self' {origin}"
        return response

    def post(self, request, namespace, name, revision, repo_type=None):
        form = {key: request.POST.get(key, "") for key in ("directory", "summary", "description")}
        try:
            files = limits.uploaded_files(request)
            paths = request.POST.getlist("paths")
            names = paths if len(paths) == len(files) else [upload.name for upload in files]
            if not files or len(files) > MAX_PORTAL_FILES:
                raise BadRequest(f"Choose between 1 and {MAX_PORTAL_FILES} files.")
            staged = [(_join(form["directory"], path), upload) for upload, path in zip(files, names, strict=True)]
            operations = services.blob_stage_uploads(
                repo=self.repo, files=staged, gitattributes=gitattributes_at(self.repo, revision), proof_from=None
            )
        except HubError as exc:
            messages.error(request, exc.message)
            return self._page(revision, form, status=exc.status)
        summary = form["summary"] or f"Upload {len(operations)} file(s)"
        if self.commit(branch=revision, operations=operations, summary=summary, description=form["description"]):
            return redirect(f"{self.repo.web_path}/tree/{revision}")
        return redirect(request.path)


class EditCardView(PortalWriteView):
    body_policy = bodies.LARGE  # the whole README

    def get(self, request, namespace, name, revision, repo_type=None):
        resolved = resolve_revision(self.repo, revision)
        context = self.base_context(resolved)
        context.update(
            {
                "tab": "card",
                "content": read_text_at(resolved.tree_oid, "README.md", repo_pk=self.repo.pk) or "",
                "errors": [],
            }
        )
        return render(request, "registry/edit_card.html", context)

    def post(self, request, namespace, name, revision, repo_type=None):
        content = request.POST.get("content", "").replace("\r\n", "\n")
        errors, _ = validate_card_text(content, repo_type=self.repo.repo_type)
        if errors:
            resolved = resolve_revision(self.repo, revision)
            context = self.base_context(resolved)
            context.update({"tab": "card", "content": content, "errors": errors})
            return render(request, "registry/edit_card.html", context, status=400)
        operation = services.blob_stage(
            repo=self.repo, path="README.md", content=content.encode(), lfs=False, proof_from=None
        )
        summary = request.POST.get("summary") or "Update README.md"
        if self.commit(branch=revision, operations=[operation], summary=summary):
            return redirect(self.repo.web_path)
        return redirect(request.path)


class DeleteFileView(PortalWriteView):
    repo_actions = {"POST": Action.WRITE}

    def post(self, request, namespace, name, rest, repo_type=None):
        revision, _, path = rest.partition("/")
        with self.flashing_errors() as outcome:
            validate_path(path)
        if outcome.failed:
            return redirect(self.repo.web_path)
        summary = request.POST.get("summary") or f"Delete {path}"
        self.commit(branch=revision, operations=[services.DeleteFile(path)], summary=summary)
        return redirect(f"{self.repo.web_path}/tree/{revision}")


class RefsView(PortalRepoView):
    """Branches and tags; writers create and delete them here."""

    repo_actions = {"GET": Action.VIEW, "POST": Action.WRITE}

    def get(self, request, namespace, name, repo_type=None):
        return render(request, "registry/refs.html", self.page_context("files", refs=list_refs(self.repo)))

    def post(self, request, namespace, name, repo_type=None):
        action = request.POST.get("action")
        target = request.POST.get("name", "").strip()
        with self.flashing_errors():
            if action == "create-branch":
                services.branch_create(repo=self.repo, branch=target, starting_point=request.POST.get("from") or None)
            elif action == "create-tag":
                services.tag_create(
                    repo=self.repo,
                    tag=target,
                    revision=request.POST.get("from") or "main",
                    message=request.POST.get("message", ""),
                )
            elif action == "delete-branch":
                services.branch_delete(repo=self.repo, branch=target)
            elif action == "delete-tag":
                services.tag_delete(repo=self.repo, tag=target)
            else:
                raise HubError("Unknown action.")
            messages.success(request, "Done.")
        return redirect(f"{self.repo.web_path}/refs")
