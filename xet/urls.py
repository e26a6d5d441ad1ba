from django.urls import path, re_path

from xet import cas, views

NS = r"(?P<namespace>[^/]+)/(?P<name>[^/]+)"
API = rf"^api/(?P<repo_type>models|datasets)/{NS}"

api_urlpatterns = [
    re_path(rf"{API}/xet-read-token/(?P<revision>.+)$", views.XetReadTokenView.as_view(), name="read-token"),
    re_path(rf"{API}/xet-write-token/(?P<revision>.+)$", views.XetWriteTokenView.as_view(), name="write-token"),
]

cas_urlpatterns = [
    re_path(r"^cas/v1/xorbs/(?P<prefix>[^/]+)/(?P<xorb_hash>[^/]+)$", cas.XorbUploadView.as_view(), name="xorb"),
    path("cas/v1/shards", cas.ShardUploadView.as_view(), name="shard"),
    path("cas/v2/shards", cas.ShardUploadV2View.as_view(), name="shard-v2"),
    re_path(r"^cas/v1/reconstructions/(?P<file_hash>[^/]+)$", cas.ReconstructionView.as_view(), name="reconstruction"),
    re_path(
        r"^cas/v2/reconstructions/(?P<file_hash>[^/]+)$", cas.ReconstructionV2View.as_view(), name="reconstruction-v2"
    ),
    re_path(r"^cas/fetch/(?P<xorb_hash>[^/]+)$", cas.FetchView.as_view(), name="fetch"),
    re_path(r"^cas(?:/(?P<rest>.*))?$", cas.UnknownCasRoute.as_view(), name="unknown"),
    # hf_xet posts telemetry to the origin of the CAS URL, whatever its path.
    path("v1/telemetry", cas.telemetry, name="telemetry"),
]
