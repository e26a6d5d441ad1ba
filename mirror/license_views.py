"""The licenses flow for mirrored repos: the same page and API local repos have (licenses/),
answered from the upstream's card and license file (mirror.license_gate).

GET  /api/{t}/{ns}/{name}/license?revision=        the license of a revision: text, version, status
POST /api/{t}/{ns}/{name}/license/accept           {"version", "revision"?} with a write token
GET  /{[datasets/]}{ns}/{name}/license?revision=   the page; POST (a session, CSRF-checked) accepts
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import set_urlconf

from core.errors import AuthenticationRequired, BadRequest, Forbidden, HubError
from core.timeutil import isoformat_z
from gating.policy import Action
from licenses.models import AcknowledgmentSource
from licenses.selectors import RevisionLicense
from mirror import license_gate, services
from mirror.credentials import operator_credential
from mirror.models import MirrorLicenseAcknowledgment
from mirror.views import MirrorView


class MirrorLicenseMixin(MirrorView):
    needed: list[RevisionLicense] = []

    def license_of(
        self, revision: str | None, *, version: object = None
    ) -> tuple[RevisionLicense, bool, license_gate.Subject]:
        """The license shown (and accepted) for downloads at `revision` (default branch: None):
        of the texts they need accepted (`license_gate.to_acknowledge`, kept in `needed`), the
        one of `version` when given, else the first the caller has not accepted, else the first;
        with `False`, the revision's own license when they need none."""
        own = license_gate.Subject(self.upstream, self.repo_type, self.repo_id, self.credential, self.anonymous)
        info_at = license_gate.revision_info(own, revision) if revision else self.info
        info_at = license_gate.described(self.upstream, info_at)
        reader = own
        if not self.anonymous and self.upstream.operator_token:
            # Where an operator accepted the repo's terms, its files (the license's among them)
            # reach signed-in callers with the operator's access, as downloads do.
            accepted = services.acceptance_for(
                upstream=self.upstream.name, repo_type=self.repo_type, repo_id=self.repo_id
            )
            if accepted is not None:
                reader = license_gate.Subject(
                    self.upstream, self.repo_type, self.repo_id, operator_credential(self.upstream), False
                )
        self.needed = license_gate.to_acknowledge(reader, info_at, self.info)
        if not self.needed:
            return license_gate.revision_license(reader, info_at), False, reader
        chosen = next((current for current in self.needed if current.version == version), None)
        chosen = chosen or license_gate.first_unacknowledged(self.principal.user, reader, self.needed)
        return chosen or self.needed[0], True, reader

    def ack_item(self, ack: MirrorLicenseAcknowledgment) -> dict:
        return {
            "user": ack.user.username,
            "repo": self.repo_id,
            "upstream": ack.upstream,
            "license": ack.license_id,
            "licenseName": ack.license_name or None,
            "version": ack.version,
            "revision": ack.commit_oid,
            "location": ack.location,
            "source": ack.source,
            "acceptedAt": isoformat_z(ack.accepted_at),
        }


def _private(response):
    response["Cache-Control"] = "private, no-cache"
    response["Vary"] = "Authorization, Cookie"
    return response


class MirrorLicenseView(MirrorLicenseMixin):
    repo_actions = {"GET": Action.VIEW}

    def get(self, request, *args, **kwargs):
        current, required, subject = self.license_of(request.GET.get("revision") or None)
        user = self.principal.user
        acknowledged = license_gate.has_acknowledged(user, subject, current) if user and required else None
        return _private(JsonResponse(license_gate.item(subject, current, acknowledged=acknowledged)))


class MirrorLicenseAcceptView(MirrorLicenseMixin):
    """SECURITY: acceptance is a commitment made in the user's name: a classic write token only
    (this route is CSRF-exempt, so sessions accept on the page, which checks CSRF; read tokens
    cannot; fine-grained tokens carry none of their user's upstream standing)."""

    repo_actions = {"POST": Action.VIEW}

    def post(self, request, *args, **kwargs):
        if self.principal.user is None:
            raise AuthenticationRequired("Log in or send a bearer token to accept a license.")
        if self.principal.token is None:
            raise Forbidden("Accept on the license page, or send a token with the write role.")
        if self.principal.is_fine_grained or not self.principal.may_write:
            raise Forbidden("Accepting a license needs a token with the write role (read tokens cannot).")
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            raise BadRequest("The request body must be a JSON object.") from None
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.")
        revision = data.get("revision")
        if revision is not None and not isinstance(revision, str):
            raise BadRequest("'revision' must be a branch, tag or commit id.")
        current, required, subject = self.license_of(revision or None, version=data.get("version"))
        ack, created = services.license_acknowledgment_record(
            user=self.principal.user,
            subject=subject,
            current=current if required else None,
            version=data.get("version"),
            source=AcknowledgmentSource.API,
        )
        return _private(JsonResponse(self.ack_item(ack), status=201 if created else 200))


class MirrorLicensePage(MirrorLicenseMixin):
    repo_actions = {"GET": Action.VIEW, "POST": Action.VIEW}

    def get(self, request, *args, **kwargs):
        return self._render(request, request.GET.get("revision") or None)

    def post(self, request, *args, **kwargs):
        revision = request.POST.get("revision") or None
        set_urlconf(None)
        if self.principal.user is None:
            return HttpResponseRedirect(f"/login?next={request.path}")
        try:
            current, required, subject = self.license_of(revision, version=request.POST.get("version"))
            ack, _ = services.license_acknowledgment_record(
                user=self.principal.user,
                subject=subject,
                current=current if required else None,
                version=request.POST.get("version", ""),
                source=AcknowledgmentSource.WEB,
            )
        except HubError as exc:
            return self._render(request, revision, error=exc.message, status=exc.status)
        messages.success(request, f"You accepted the license of {self.repo_id} (version {ack.version[:12]}).")
        return HttpResponseRedirect(f"{subject.web_path}/license?revision={ack.commit_oid}")

    def _render(self, request, revision: str | None, *, error: str = "", status: int = 200):
        current, required, subject = self.license_of(revision)
        set_urlconf(None)  # the page's links (base.html) are the main URLconf's
        user = self.principal.user
        context = {
            "repo_id": self.repo_id,
            "repo_type": self.repo_type,
            "upstream": self.upstream,
            "web_path": subject.web_path,
            "current": current,
            "required": required,
            "acknowledged": license_gate.has_acknowledged(user, subject, current) if required else False,
            "needed": len(self.needed),
            "error": error,
        }
        return _private(render(request, "mirror/license.html", context, status=status))
