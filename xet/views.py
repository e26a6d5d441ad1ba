"""Hub-side Xet routes: the read and write tokens hf_xet asks for before it talks to the CAS.

GET /api/{type}s/{ns}/{name}/xet-read-token/{rev}   (what /resolve needs: download access)
GET /api/{type}s/{ns}/{name}/xet-write-token/{rev}  (what the commit needs: write access, or a
                                                      pull request: `?create_pr=1`, `refs/pr/N`)
Both answer JSON {accessToken, exp, casUrl} (read by hf_xet) and the same values as X-Xet-*
headers (read by huggingface_hub).
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from core import edge
from core.schema import PULL_REQUEST_PARAMETERS
from gating.policy import Action, CommitTarget, Principal, check_license, check_push
from gating.repo_views import RepoAPIView
from registry.models import Repo
from registry.selectors import resolve_revision
from xet import tokens
from xet.schema import XetTokenSerializer


def cas_url(request) -> str:
    return settings.GATEHOUSE_XET_CAS_URL or request.build_absolute_uri("/cas")


def token_response(
    request, *, scope: str, repo: Repo, revision: str, principal: Principal, create_pr: bool = False
) -> Response:
    token, expires = tokens.mint(
        scope=scope, repo_pk=repo.pk, revision=revision, principal=principal, create_pr=create_pr
    )
    base = cas_url(request)
    response = Response({"accessToken": token, "exp": expires, "casUrl": base})
    response["X-Xet-Cas-Url"] = base
    response["X-Xet-Access-Token"] = token
    response["X-Xet-Token-Expiration"] = str(expires)
    response["Cache-Control"] = "no-store"
    return response


class XetReadTokenView(RepoAPIView):
    """Minted only for callers the policy lets download this revision (gates, licenses)."""

    repo_actions = {"GET": Action.DOWNLOAD}

    @extend_schema(responses=XetTokenSerializer)
    def get(self, request, namespace, name, revision, repo_type=None):
        resolved = resolve_revision(self.repo, revision)
        check_license(self.access, resolved)
        return token_response(
            request, scope=tokens.READ, repo=self.repo, revision=resolved.commit_oid, principal=self.principal
        )


class XetWriteTokenView(RepoAPIView):
    """Lets its holder upload content for this repo; the commit itself is authorised again."""

    repo_actions = {"GET": Action.PUSH}

    @extend_schema(parameters=PULL_REQUEST_PARAMETERS, responses=XetTokenSerializer)
    def get(self, request, namespace, name, revision, repo_type=None):
        target = CommitTarget.parse(revision, create_pr=edge.query_flag(request, "create_pr"))
        check_push(self.access, target)
        return token_response(
            request,
            scope=tokens.WRITE,
            repo=self.repo,
            revision=revision,
            principal=self.principal,
            create_pr=target.create_pr,
        )
