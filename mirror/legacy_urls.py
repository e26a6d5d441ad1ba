"""The URLconf of requests whose first path segment is a mirrored namespace-less id (`gpt2`,
GATEHOUSE_UPSTREAMS' `legacy_ids`): the same routes as mirror.urls, for an id of one segment."""

from mirror.urls import repo_patterns

urlpatterns = repo_patterns(r"(?P<namespace>)(?P<name>[^/]+)")
