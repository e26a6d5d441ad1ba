"""Portal pages for licenses.

/licenses, /licenses/{id}              the catalogue: summaries and packaged texts (public)
/settings/licenses                     the signed-in user's acknowledgments
/{repo}/license?revision=              a revision's license: text, summary, version; POST accepts it
/{repo}/license/acknowledgments        admins: who accepted which version, CSV/JSON export, opt-in
/{repo}/derivatives                    repos that name this one as base_model, with their licenses
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from core.errors import HubError, NotFound
from core.http import as_export, csv_response
from core.views import render_error
from gating.policy import Action, Principal, can, check_may_commit_to_read, may_read_license_text, repos_visible_to
from gating.repo_views import PortalRepoView
from licenses import selectors, serializers, services, texts
from licenses.models import AcknowledgmentSource, License
from registry.selectors import resolve_revision


class CataloguePage(View):
    def get(self, request):
        rows = License.objects.all()
        return render(request, "licenses/catalogue.html", {"licenses": rows})


class CatalogueEntryPage(View):
    def get(self, request, license_id):
        row = License.objects.filter(pk=license_id).first()
        if row is None:
            return render_error(request, NotFound("No such license in the catalogue."))
        text = texts.packaged_text(row.text_key) if row.text_key else None
        context = {"license": row, "text": text, "package": f"{texts.PACKAGE} {texts.package_version()}"}
        return render(request, "licenses/entry.html", context)


class MyAcknowledgmentsPage(View):
    def get(self, request):
        if not request.user.is_authenticated:
            return redirect(f"/login?next={request.path}")
        # SECURITY: repos that became private to the user drop out of the list.
        visible = repos_visible_to(Principal.from_request(request))
        acks = selectors.acknowledgments_of(request.user).filter(repo__in=visible)
        return render(request, "licenses/mine.html", {"acks": acks})


class RepoLicensePage(PortalRepoView):
    repo_actions = {"GET": Action.VIEW, "POST": Action.VIEW}

    def get(self, request, namespace, name, repo_type=None):
        return self._render(request)

    def post(self, request, namespace, name, repo_type=None):
        if not request.user.is_authenticated:
            return redirect(f"/login?next={request.path}")
        revision = request.POST.get("revision") or None
        try:
            check_may_commit_to_read(self.access, what="accept a license")
            ack, _ = services.acknowledgment_record(
                user=request.user,
                repo=self.repo,
                version=request.POST.get("version", ""),
                revision=revision,
                source=AcknowledgmentSource.WEB,
            )
        except HubError as exc:
            return self._render(request, error=exc.message, status=exc.status)
        messages.success(request, f"You accepted the license of {self.repo.repo_id} (version {ack.version[:12]}).")
        return redirect(f"{self.repo.web_path}/license?revision={ack.commit_oid}")

    def _render(self, request, *, error: str = "", status: int = 200):
        revision = request.GET.get("revision") or request.POST.get("revision") or self.repo.default_branch
        resolved = resolve_revision(self.repo, revision)
        current = selectors.license_at(self.repo, resolved, opt_in=self.access.acknowledgment_opt_in)
        current = selectors.shown_to(current, may_read=may_read_license_text(self.access, current))
        user = self.principal.user
        context = self.base_context(resolved)
        context.update(
            {
                "tab": "license",
                "current": current,
                "acknowledged": selectors.has_acknowledged(user, self.repo, current),
                "is_member": self.access.role is not None,
                "gate_open": can(self.access, Action.DOWNLOAD),
                "error": error,
            }
        )
        return render(request, "licenses/repo_license.html", context, status=status)


class RepoAcknowledgmentsPage(PortalRepoView):
    repo_actions = {"GET": Action.MANAGE, "POST": Action.MANAGE}

    def get(self, request, namespace, name, repo_type=None):
        acks = selectors.acknowledgments_for_repo(self.repo)
        export = request.GET.get("export")
        filename = f"{self.repo.namespace}-{self.repo.name}-license-acknowledgments"
        if export == "csv":
            return csv_response(f"{filename}.csv", serializers.acknowledgment_rows(acks))
        if export == "json":
            body = json.dumps([serializers.acknowledgment_item(ack) for ack in acks], indent=2)
            return as_export(HttpResponse(body, content_type="application/json"), f"{filename}.json")
        resolved = resolve_revision(self.repo, self.repo.default_branch)
        context = self.page_context(
            "license",
            resolved,
            acks=acks,
            current=selectors.license_at(self.repo, resolved, opt_in=self.access.acknowledgment_opt_in),
            opted_in=selectors.requires_acknowledgment_opt_in(self.repo),
        )
        return render(request, "licenses/acknowledgments.html", context)

    def post(self, request, namespace, name, repo_type=None):
        wanted = request.POST.get("require_acknowledgment") == "on"
        services.repo_license_settings_update(repo=self.repo, require_acknowledgment=wanted)
        state = "required for every download." if wanted else "required only where the license asks for it."
        messages.success(request, f"Acknowledgment is now {state}")
        return redirect(f"{self.repo.web_path}/license/acknowledgments")


class DerivativesPage(PortalRepoView):
    def get(self, request, namespace, name, repo_type=None):
        context = self.page_context(
            "license",
            derivatives=selectors.derivatives_of(self.repo, repos_visible_to(self.principal)),
            base_license=License.objects.filter(pk=self.repo.license).first() if self.repo.license else None,
        )
        return render(request, "licenses/derivatives.html", context)
