"""Git LFS batch API plus the signed transfer endpoints the Hub client uploads to.

- POST /{[datasets/]}{ns}/{name}.git/info/lfs/objects/batch (Bearer, or Basic with a token as
  the password as git-lfs sends it): `upload` by writers, or by contributors who may take part
  in the repo (pull requests: their uploads count against their daily quota and prove possession
  for their own commits only, see `blob_stage_stored`); `download` (git-lfs on clone)
  answers, per object, a link to `/resolve` at a revision where the caller may download a path
  holding it (see `_download_answer`)
- PUT  /lfs/objects/{oid}?sig=...              single-part upload (no Authorization: signed URL)
- PUT  /lfs/objects/{oid}/parts/{n}?sig=...    multipart part (answers with an ETag)
- POST /lfs/objects/{oid}/complete?sig=...     multipart completion {"oid", "parts": [...]}
- POST /{[datasets/]}{ns}/{name}.git/info/lfs/objects/verify (bearer token) {"oid", "size"}
"""

from __future__ import annotations

from functools import partial
from urllib.parse import quote

from django.conf import settings
from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework.response import Response

from accounts.auth import BasicOrBearerTokenAuthentication, basic_password
from accounts.models import User
from core import bodies, edge, faults, jsontext
from core.api import HubJSONRenderer, JSONParser
from core.bodies import SessionAuthentication
from core.errors import BadRequest, Forbidden, HubError, NotFound, RateLimited
from core.http import answers_errors
from core.socketbody import socket_body
from gating.policy import Action, Principal, RepoAccess, can, check, check_download
from gating.repo_views import RepoAPIView
from registry import limits, services
from registry.git import trees
from registry.models import Ref, Repo
from registry.selectors import Resolved, commit_tree_oid, repo_holds, resolve_revision, sender_holds
from registry.storage import content, get_storage, s3uploads, uploads
from registry.storage.uploads import VerifiedUpload

LFS_CONTENT_TYPE = "application/vnd.git-lfs+json"
MAX_BATCH_OBJECTS = 1000


class LfsJSONParser(JSONParser):
    media_type = LFS_CONTENT_TYPE


class LfsJSONRenderer(HubJSONRenderer):
    media_type = LFS_CONTENT_TYPE


def _object_error(oid, size, code: int, message: str) -> dict:
    return {
        "oid": oid if isinstance(oid, str) else "",
        "size": size if isinstance(size, int) else 0,
        "error": {"code": code, "message": message},
    }


def _record(verified: VerifiedUpload | None, *, by_writer: bool) -> None:
    """Record bytes the storage layer verified and published (after the publish, in its own
    transaction): the sender's receipt, and for a writer's upload the repo's proof."""
    if verified is not None:
        services.upload_record(
            sha256=verified.sha256,
            size=verified.size,
            repo_id=verified.repo_id,
            user_id=verified.user_id,
            by_writer=by_writer,
        )


def _record_published(verified: VerifiedUpload, *, by_writer: bool) -> None:
    faults.point("lfs.after_publish")  # stored, not yet the repo's: the client's retry records it
    _record(verified, by_writer=by_writer)


class LfsBatchView(RepoAPIView):
    body_policy = bodies.LARGE  # many objects per batch
    authentication_classes = [BasicOrBearerTokenAuthentication, SessionAuthentication]
    parser_classes = [LfsJSONParser, JSONParser]
    renderer_classes = [LfsJSONRenderer, HubJSONRenderer]

    @property
    def repo_actions(self) -> dict[str, Action]:  # type: ignore[override]
        """`download` needs DOWNLOAD (then the per-file checks, per object); anything else
        PARTICIPATE (the push rule is checked where content lands: commits and git pushes)."""
        data = self.request.data
        operation = data.get("operation") if isinstance(data, dict) else None
        return {"POST": Action.DOWNLOAD if operation == "download" else Action.PARTICIPATE}

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if response.status_code == 401:  # git-lfs asks its credential helper after a 401
            response["WWW-Authenticate"] = 'Basic realm="Gatehouse"'
        return response

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request, namespace, name, repo_type=None):
        data = edge.json_object(request)
        if data.get("operation") not in ("upload", "download"):
            raise BadRequest("The operation must be 'upload' or 'download'.")
        objects = data.get("objects")
        if not isinstance(objects, list) or len(objects) > MAX_BATCH_OBJECTS:
            raise BadRequest(f"'objects' must be a list of at most {MAX_BATCH_OBJECTS} objects.")
        if data["operation"] == "download":
            revisions = self._revisions(data.get("ref"))
            answers = [self._download_answer(request, item, revisions) for item in objects]
            return Response({"transfer": "basic", "objects": answers, "hash_algo": "sha256"})
        transfers = data.get("transfers") or ["basic"]
        if not isinstance(transfers, list):
            raise BadRequest("'transfers' must be a list of transfer adapter names.")
        self.contributor = not can(self.access, Action.WRITE)
        answered = [self._answer(request, item, transfers) for item in objects]
        return Response({"transfer": "basic", "objects": answered, "hash_algo": "sha256"})

    def _revisions(self, ref) -> list[Resolved]:
        """The ref git-lfs names (the branch it checks out), or with none every ref tip."""
        name = ref.get("name") if isinstance(ref, dict) else None
        if isinstance(name, str) and name:
            return [resolve_revision(self.repo, name)]
        tips = []
        for row in Ref.objects.filter(repo=self.repo):
            tree_oid = commit_tree_oid(self.repo, row.commit_oid)
            if tree_oid is not None:
                tips.append(Resolved(row.name, row.commit_oid, tree_oid, row))
        return tips

    def _download_answer(self, request, item, revisions: list[Resolved]) -> dict:
        """A download link for an object if some path holding it at one of `revisions` is one the
        caller may download (`check_download`, as /resolve decides), else the first refusal.

        SECURITY: the link is `/resolve` at that commit and path, which checks everything again
        (and serves Xet-only content as /resolve does); git-lfs sends no credentials to an
        `authenticated` link, so the caller's own token travels in its `header`."""
        oid, size = (item.get("oid"), item.get("size")) if isinstance(item, dict) else (None, None)
        try:
            oid = uploads.validate_oid(oid)
        except BadRequest as exc:
            return _object_error(oid, size, 422, exc.message)
        refusal: HubError | None = None
        for resolved in revisions:
            for path in trees.lfs_paths(resolved.tree_oid).get(oid, ()):
                try:
                    check_download(self.access, resolved, path)
                except HubError as exc:
                    refusal = refusal or exc
                    continue
                if not content.belongs_to_repo(self.repo.pk, oid):
                    continue
                entry = trees.find_entry(resolved.tree_oid, path)
                stored_size = entry["size"] if entry else None
                if size != stored_size:
                    return _object_error(oid, size, 422, f"Object {oid} has size {stored_size}.")
                download = self._link(resolved, path)
                return {"oid": oid, "size": size, "authenticated": True, "actions": {"download": download}}
        if refusal is not None:
            return _object_error(oid, size, 403, refusal.message)
        return _object_error(oid, size, 404, f"Object {oid} does not exist in this repo.")

    def _link(self, resolved: Resolved, path: str) -> dict:
        href = self.request.build_absolute_uri(f"{self.repo.web_path}/resolve/{resolved.commit_oid}/{quote(path)}")
        action: dict = {"href": href, "expires_in": 3600}
        authorization = self.request.META.get("HTTP_AUTHORIZATION", "")
        token = basic_password(authorization) if authorization[:6].lower() == "basic " else None
        if authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
        if token:
            action["header"] = {"Authorization": f"Bearer {token}"}
        return action

    def _answer(self, request, item, transfers) -> dict:
        oid, size = (item.get("oid"), item.get("size")) if isinstance(item, dict) else (None, None)
        try:
            oid = uploads.validate_oid(oid)
        except BadRequest as exc:
            return _object_error(oid, size, 422, exc.message)
        if not edge.is_size(size):
            return _object_error(oid, size, 422, "'size' must be a non-negative integer.")
        if too_large := limits.file_too_large_message(size, label=f"Object {oid}"):
            return _object_error(oid, size, 422, too_large)
        if _holds(self.repo, request.user, oid=oid, size=size, contributor=self.contributor):
            return {"oid": oid, "size": size}  # already here: no actions, the client skips it
        if self.contributor:  # charged before any URL is handed out; beyond the quota, this object only
            try:
                limits.charge_contributor(user=request.user, amount=size)
            except RateLimited as exc:
                return _object_error(oid, size, 429, exc.message)
        multipart = "multipart" in transfers and size > settings.GATEHOUSE_LFS_MULTIPART_THRESHOLD
        verify: dict = {"href": request.build_absolute_uri(f"{self.repo.web_path}.git/info/lfs/objects/verify")}
        if authorization := request.META.get("HTTP_AUTHORIZATION"):
            # `authenticated: true` tells git-lfs to send no credentials of its own: the verify call
            # carries the caller's, given back to the same caller (as the Hub does).
            verify["header"] = {"Authorization": authorization}
        if get_storage().serves_signed_urls:  # bytes go straight to the object store
            signed = s3uploads.upload_action(
                request, repo_id=self.repo.pk, user_id=request.user.pk, oid=oid, size=size, multipart=multipart
            )
            return {"oid": oid, "size": size, "authenticated": True, "actions": {"upload": signed, "verify": verify}}
        grant = uploads.UploadGrant(
            user_id=request.user.pk,
            repo_id=self.repo.pk,
            oid=oid,
            size=size,
            upload_id=uploads.multipart_start() if multipart else "",
        )
        signature = quote(grant.sign())
        base = request.build_absolute_uri(f"/lfs/objects/{oid}")
        upload: dict = {"href": f"{base}?sig={signature}", "expires_in": settings.GATEHOUSE_UPLOAD_URL_TTL}
        if multipart:
            chunk = settings.GATEHOUSE_LFS_CHUNK_SIZE
            header = {"chunk_size": str(chunk)}
            for number in range(1, uploads.part_count(size, chunk) + 1):
                header[str(number)] = f"{base}/parts/{number}?sig={signature}"
            upload = {
                "href": f"{base}/complete?sig={signature}",
                "header": header,
                "expires_in": settings.GATEHOUSE_UPLOAD_URL_TTL,
            }
        return {"oid": oid, "size": size, "authenticated": True, "actions": {"upload": upload, "verify": verify}}


def _holds(repo: Repo, user: User, *, oid: str, size: int, contributor: bool) -> bool:
    if contributor:
        return sender_holds(repo=repo, user_id=user.pk, oid=oid, size=size)
    return repo_holds(repo=repo, oid=oid, size=size)


class LfsVerifyView(RepoAPIView):
    repo_actions = {"POST": Action.PARTICIPATE}  # as the batch's upload
    authentication_classes = [BasicOrBearerTokenAuthentication, SessionAuthentication]
    parser_classes = [LfsJSONParser, JSONParser]
    renderer_classes = [LfsJSONRenderer, HubJSONRenderer]

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request, namespace, name, repo_type=None):
        data = edge.json_object(request)
        oid = uploads.validate_oid(data.get("oid"))
        size = data.get("size")
        contributor = not can(self.access, Action.WRITE)
        held = edge.is_size(size) and _holds(self.repo, request.user, oid=oid, size=size, contributor=contributor)
        if not held and edge.is_size(size) and get_storage().serves_signed_urls:
            verified = s3uploads.verify_staged(repo_id=self.repo.pk, user_id=request.user.pk, oid=oid, size=size)
            if verified is not None:
                _record(verified, by_writer=not contributor)
                held = _holds(self.repo, request.user, oid=oid, size=size, contributor=contributor)
        if not held:
            raise NotFound(f"Object {oid} of size {size} was not received.")
        return Response({"oid": oid, "size": size})


@method_decorator(csrf_exempt, name="dispatch")
class SignedTransferView(View):
    """Base of the transfer endpoints: signature first, then a fresh policy check of the signer.

    SECURITY: the URL proves that the batch call authorised this exact object for this user and
    repo, recently; the policy check makes a revoked right stop uploads at once. Subclasses
    never override `dispatch` (tests/test_routes.py walks the routes and checks this)."""

    @answers_errors
    def dispatch(self, request, *args, **kwargs):
        oid = uploads.validate_oid(kwargs["oid"])
        self.grant = uploads.UploadGrant.verify(request.GET.get("sig"), oid=oid)
        self._check_still_allowed()
        return super().dispatch(request, *args, **kwargs)

    def _check_still_allowed(self) -> None:
        user = User.objects.filter(pk=self.grant.user_id, is_active=True).first()
        repo = Repo.objects.filter(pk=self.grant.repo_id).first()
        if user is None or repo is None:
            raise Forbidden("This upload URL is no longer valid.")
        access = RepoAccess(Principal(user=user), repo)
        check(access, Action.PARTICIPATE)  # as the batch that signed it
        self.by_writer = can(access, Action.WRITE)

    def body(self):
        return socket_body(self.request) or self.request

    def content_length(self) -> int | None:
        return bodies.content_length(self.request)


class LfsUploadView(SignedTransferView):
    body_policy = bodies.BodyPolicy(lambda: settings.GATEHOUSE_MAX_FILE_SIZE)

    def put(self, request, oid):
        verified = uploads.receive_single(self.grant, self.body(), self.content_length())
        _record(verified, by_writer=self.by_writer)
        return JsonResponse({"oid": verified.sha256, "size": verified.size})


class LfsPartView(SignedTransferView):
    body_policy = bodies.BodyPolicy(lambda: settings.GATEHOUSE_LFS_CHUNK_SIZE)  # the part size the batch set

    def put(self, request, oid, number):
        if not self.grant.upload_id:
            raise BadRequest("This URL is not for a multipart upload.")
        etag = uploads.receive_part(self.grant, int(number), self.body(), self.content_length())
        response = JsonResponse({"part": int(number)})
        response["ETag"] = etag
        return response


class LfsCompleteView(SignedTransferView):
    def post(self, request, oid):
        body = jsontext.loads(request.read(1024 * 1024) or b"{}", error="Expected a JSON body.")
        if not isinstance(body, dict) or body.get("oid") != oid or not isinstance(body.get("parts"), list):
            raise BadRequest("Expected {'oid': ..., 'parts': [...]} for this object.")
        if get_storage().serves_signed_urls:
            verified = s3uploads.complete_multipart(self.grant, body["parts"])
            _record_published(verified, by_writer=self.by_writer)
        else:
            record = partial(_record_published, by_writer=self.by_writer)
            verified = uploads.complete_multipart(self.grant, body["parts"], on_published=record)
        return JsonResponse({"oid": verified.sha256, "size": verified.size})
