"""The portal's side of mirrored repos: their page (marked as mirrored, with their upstream,
files and cache state) and, for operators, their pulls and the purge."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import set_urlconf

from gating.policy import Action
from mirror import services
from mirror.models import MirrorObject, MirrorPull
from mirror.views import MirrorView, can_manage_mirror, licenses_of


class MirrorRepoPage(MirrorView):
    """The portal's page of a mirrored repo: marked as such, with its upstream, its files and
    what is cached here; operators also see the pulls and may purge the cache."""

    repo_actions = {"GET": Action.VIEW, "HEAD": Action.VIEW}

    def get(self, request, *args, **kwargs):
        set_urlconf(None)  # the page's links (base.html) are the main URLconf's
        info = self.info if isinstance(self.info, dict) else {}
        pulls = MirrorPull.objects.filter(
            upstream=self.upstream.name, repo_type=self.repo_type, repo_id__iexact=self.repo_id
        )
        stored = set(
            MirrorObject.objects.filter(
                upstream=self.upstream.name, oid__in=pulls.values("oid"), state="stored"
            ).values_list("oid", flat=True)
        )
        cached_paths = sorted({path for path, oid in pulls.values_list("path", "oid") if oid in stored})
        is_operator = can_manage_mirror(self.principal)
        context = {
            "repo_id": self.repo_id,
            "repo_type": self.repo_type,
            "upstream": self.upstream,
            "info": info,
            "marker": self.mirror_marker(self.info_answer),
            "licenses": licenses_of(info),
            "files": [
                sibling.get("rfilename", "") for sibling in info.get("siblings", []) if isinstance(sibling, dict)
            ],
            "cached_paths": cached_paths,
            "is_operator": is_operator,
            "pulls": list(pulls.order_by("-at")[:50]) if is_operator else [],
        }
        response = render(request, "mirror/repo.html", context)
        response["Cache-Control"] = "private, no-cache"
        return response


class MirrorPurgeView(MirrorView):
    """POST (operators): drop what is cached of this repo; downloads in flight finish."""

    repo_actions = {"POST": Action.MANAGE}

    def post(self, request, *args, **kwargs):
        count = services.repo_purge(
            upstream=self.upstream.name, repo_type=self.repo_type, repo_id=self.repo_id, actor=self.principal.user
        )
        set_urlconf(None)
        messages.success(request, f"{count} cached file(s) of {self.repo_id} purged.")
        prefix = "" if self.repo_type == "model" else f"{self.repo_type}s/"
        return HttpResponseRedirect(f"/{prefix}{self.repo_id}")
