"""Native license routes (not part of the Hub's API; errors use the same {"error", "code"} body).

GET  /api/licenses                                    the catalogue
GET  /api/licenses/{id}                               one entry, with its packaged text
GET  /api/license-acknowledgments                     the caller's acknowledgments
GET  /api/{t}/{ns}/{name}/license?revision=           license of a revision: text, version, status
POST /api/{t}/{ns}/{name}/license/accept              {"version", "revision"?}: accept that version
GET  /api/{t}/{ns}/{name}/license/acknowledgments     admins: who accepted which version (?export=csv)
PUT  /api/{t}/{ns}/{name}/license/settings            admins: {"requireAcknowledgment": bool}
GET  /api/{t}/{ns}/{name}/derivatives                 repos that name this one as base_model
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core import edge
from core.api import AllowAnyone, SignedIn
from core.errors import AuthenticationRequired, BadRequest, Forbidden, NotFound
from core.http import csv_response
from gating.policy import Action, Principal, check_may_commit_to_read, may_read_license_text, repos_visible_to
from gating.repo_views import RepoAPIView
from licenses import schema, selectors, serializers, services
from licenses.models import AcknowledgmentSource, License
from registry.selectors import resolve_revision


class CatalogueView(APIView):
    permission_classes = [AllowAnyone]

    @extend_schema(operation_id="licenses_list", responses=schema.CatalogueItemSerializer(many=True))
    def get(self, request):
        return Response([serializers.catalogue_item(row) for row in License.objects.all()])


class CatalogueEntryView(APIView):
    permission_classes = [AllowAnyone]

    @extend_schema(operation_id="licenses_retrieve", responses=schema.CatalogueEntrySerializer)
    def get(self, request, license_id):
        row = License.objects.filter(pk=license_id).first()
        if row is None:
            raise NotFound(f"No license with id {license_id[:100]!r} in the catalogue.")
        return Response(serializers.catalogue_item(row, with_text=True))


class MyAcknowledgmentsView(APIView):
    permission_classes = [SignedIn]

    @extend_schema(operation_id="license_acknowledgments_mine", responses=schema.AcknowledgmentSerializer(many=True))
    def get(self, request):
        # SECURITY: only repos the caller can still see; an acknowledgment must not reveal a repo
        # that has since become private to them.
        visible = repos_visible_to(Principal.from_request(request))
        acks = selectors.acknowledgments_of(request.user).filter(repo__in=visible)
        return Response([serializers.acknowledgment_item(ack) for ack in acks])


class RepoLicenseView(RepoAPIView):
    repo_actions = {"GET": Action.VIEW}

    @extend_schema(
        operation_id="repo_license", parameters=schema.REVISION_PARAMETERS, responses=schema.RevisionLicenseSerializer
    )
    def get(self, request, namespace, name, repo_type=None):
        resolved = resolve_revision(self.repo, request.GET.get("revision") or self.repo.default_branch)
        current = selectors.license_at(self.repo, resolved, opt_in=self.access.acknowledgment_opt_in)
        current = selectors.shown_to(current, may_read=may_read_license_text(self.access, current))
        user = self.principal.user
        acknowledged = selectors.has_acknowledged(user, self.repo, current) if user else None
        return Response(serializers.revision_license_item(self.repo, current, acknowledged=acknowledged))


class LicenseAcceptView(RepoAPIView):
    """Anyone who can see the repo may accept its license; acceptance alone grants nothing on a
    gated repo. SECURITY: it is a commitment made in the user's name, so read tokens cannot; a
    fine-grained token can when it may read the repo (gating.policy.check_may_commit_to_read)."""

    repo_actions = {"POST": Action.VIEW}

    @extend_schema(
        operation_id="repo_license_accept",
        request=schema.AcceptSerializer,
        responses={200: schema.AcknowledgmentSerializer, 201: schema.AcknowledgmentSerializer},
    )
    def post(self, request, namespace, name, repo_type=None):
        if self.principal.user is None:
            raise AuthenticationRequired("Log in or send a bearer token to accept a license.")
        if self.principal.fine_grained is not None:
            check_may_commit_to_read(self.access, what="accept a license")
        elif not self.principal.may_write:
            raise Forbidden("Accepting a license needs a token with the write role (read tokens cannot).")
        data = edge.json_object(request)
        revision = data.get("revision")
        if revision is not None and not isinstance(revision, str):
            raise BadRequest("'revision' must be a branch, tag or commit id.")
        ack, created = services.acknowledgment_record(
            user=self.principal.user,
            repo=self.repo,
            version=data.get("version"),
            revision=revision,
            source=AcknowledgmentSource.API,
        )
        return Response(serializers.acknowledgment_item(ack), status=201 if created else 200)


class RepoAcknowledgmentsView(RepoAPIView):
    repo_actions = {"GET": Action.MANAGE}

    @extend_schema(
        operation_id="repo_license_acknowledgments",
        parameters=schema.EXPORT_PARAMETERS,
        responses=schema.AcknowledgmentSerializer(many=True),
    )
    def get(self, request, namespace, name, repo_type=None):
        acks = selectors.acknowledgments_for_repo(self.repo)
        if request.GET.get("export") == "csv":
            filename = f"{self.repo.namespace}-{self.repo.name}-license-acknowledgments.csv"
            return csv_response(filename, serializers.acknowledgment_rows(acks))
        return Response([serializers.acknowledgment_item(ack) for ack in acks])


class RepoLicenseSettingsView(RepoAPIView):
    repo_actions = {"GET": Action.MANAGE, "PUT": Action.MANAGE}

    @extend_schema(operation_id="repo_license_settings", responses=schema.LicenseSettingsSerializer)
    def get(self, request, namespace, name, repo_type=None):
        return Response({"requireAcknowledgment": selectors.requires_acknowledgment_opt_in(self.repo)})

    @extend_schema(
        operation_id="repo_license_settings_update",
        request=schema.LicenseSettingsSerializer,
        responses=schema.LicenseSettingsSerializer,
    )
    def put(self, request, namespace, name, repo_type=None):
        value = edge.json_bool(edge.json_object(request), "requireAcknowledgment")
        row = services.repo_license_settings_update(repo=self.repo, require_acknowledgment=value)
        return Response({"requireAcknowledgment": row.require_acknowledgment})


class DerivativesView(RepoAPIView):
    repo_actions = {"GET": Action.VIEW}

    @extend_schema(operation_id="repo_derivatives", responses=schema.DerivativeSerializer(many=True))
    def get(self, request, namespace, name, repo_type=None):
        rows = selectors.derivatives_of(self.repo, repos_visible_to(self.principal))
        return Response([serializers.derivative_item(row) for row in rows])
