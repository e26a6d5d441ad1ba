"""OpenAPI shapes of the Hub-compatible routes of registry.api, for the schema only.

The JSON is written out by registry.api.serializers (the client reads exact keys) and the bodies
are parsed by the views; these serializers describe both, as hub-api.md does, so that the
schema documents the routes and can drive clients and fuzzing. Nothing validates with them.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

PAGINATION_PARAMETERS = [
    OpenApiParameter("limit", int, description="Items per page (capped by the server)."),
    OpenApiParameter("cursor", str, description='From the `Link: <...>; rel="next"` header of the previous page.'),
]


@extend_schema_field({"oneOf": [{"type": "boolean", "enum": [False]}, {"type": "string", "enum": ["auto", "manual"]}]})
class GatedField(serializers.Field):
    """false, "auto" or "manual", as the Hub says it."""


class LfsSerializer(serializers.Serializer):
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    pointerSize = serializers.IntegerField()


class SiblingSerializer(serializers.Serializer):
    rfilename = serializers.CharField()
    size = serializers.IntegerField(required=False, help_text="With ?blobs=1.")
    blobId = serializers.CharField(required=False, help_text="With ?blobs=1.")
    lfs = LfsSerializer(required=False, help_text="With ?blobs=1, LFS files only.")


class RepoSummarySerializer(serializers.Serializer):
    _id = serializers.CharField()
    id = serializers.CharField(help_text="namespace/name")
    author = serializers.CharField()
    private = serializers.BooleanField()
    gated = GatedField()
    disabled = serializers.BooleanField()
    downloads = serializers.IntegerField()
    likes = serializers.IntegerField()
    lastModified = serializers.DateTimeField()
    createdAt = serializers.DateTimeField()
    modelId = serializers.CharField(required=False, help_text="Models only.")
    tags = serializers.ListField(child=serializers.CharField())
    pipeline_tag = serializers.CharField(required=False)
    library_name = serializers.CharField(required=False)


class RepoInfoSerializer(RepoSummarySerializer):
    sha = serializers.CharField(help_text="The commit the answer describes.")
    siblings = SiblingSerializer(many=True)
    usedStorage = serializers.IntegerField()
    cardData = serializers.DictField(required=False, help_text="The card's metadata (README.md front matter).")


class RepoListItemSerializer(serializers.Serializer):
    """A repo summary; with `expand`, only `_id`, `id` and the keys asked for (of repo info)."""

    _id = serializers.CharField()
    id = serializers.CharField()
    author = serializers.CharField(required=False)
    private = serializers.BooleanField(required=False)
    gated = GatedField(required=False)
    disabled = serializers.BooleanField(required=False)
    downloads = serializers.IntegerField(required=False)
    likes = serializers.IntegerField(required=False)
    lastModified = serializers.DateTimeField(required=False)
    createdAt = serializers.DateTimeField(required=False)
    modelId = serializers.CharField(required=False)
    tags = serializers.ListField(child=serializers.CharField(), required=False)
    pipeline_tag = serializers.CharField(required=False)
    library_name = serializers.CharField(required=False)
    sha = serializers.CharField(required=False)
    siblings = SiblingSerializer(many=True, required=False)
    usedStorage = serializers.IntegerField(required=False)
    cardData = serializers.DictField(required=False)


REPO_INFO_PARAMETERS = [OpenApiParameter("blobs", bool, description="Sizes, blob ids and LFS data of the files.")]
REPO_LIST_PARAMETERS = [  # and `sort` (registry.api.repos.SORT_FIELDS)
    OpenApiParameter("search", str, many=True, description="Substrings of namespace/name, all of them."),
    OpenApiParameter("author", str),
    OpenApiParameter("filter", str, many=True, description="Tags, all of them."),
    OpenApiParameter("pipeline_tag", str),
    OpenApiParameter("library", str),
    OpenApiParameter("gated", str, enum=["true", "false"]),
    OpenApiParameter("full", bool),
    OpenApiParameter("cardData", bool),
    OpenApiParameter("expand", str, many=True),
    *PAGINATION_PARAMETERS,
]


class AuthCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()


class RefSerializer(serializers.Serializer):
    name = serializers.CharField()
    ref = serializers.CharField(help_text="e.g. refs/heads/main")
    targetCommit = serializers.CharField()


class RefsSerializer(serializers.Serializer):
    branches = RefSerializer(many=True)
    converts = RefSerializer(many=True)
    tags = RefSerializer(many=True)
    pullRequests = RefSerializer(many=True, required=False, help_text="With ?include_prs=1.")


REFS_PARAMETERS = [OpenApiParameter("include_prs", bool)]


class CommitAuthorSerializer(serializers.Serializer):
    user = serializers.CharField()


class FormattedSerializer(serializers.Serializer):
    title = serializers.CharField()
    message = serializers.CharField(allow_blank=True)


class CommitItemSerializer(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    message = serializers.CharField(allow_blank=True)
    date = serializers.DateTimeField()
    authors = CommitAuthorSerializer(many=True)
    formatted = FormattedSerializer(required=False, help_text="With ?expand[]=formatted (HTML-escaped).")


COMMITS_PARAMETERS = [OpenApiParameter("expand", str, enum=["formatted"]), *PAGINATION_PARAMETERS]


class TreeItemLfsSerializer(serializers.Serializer):
    oid = serializers.CharField(help_text="The content's sha256.")
    size = serializers.IntegerField()
    pointerSize = serializers.IntegerField()


class LastCommitSerializer(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    date = serializers.DateTimeField()


class ScanSerializer(serializers.Serializer):
    status = serializers.CharField()
    imports = serializers.ListField(child=serializers.DictField(), required=False)
    message = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class SecurityStatusSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="safe, unsafe, unscanned, queued, error, ...")
    avScan = ScanSerializer()
    pickleImportScan = ScanSerializer(allow_null=True)


class TreeItemSerializer(serializers.Serializer):
    """registry.api.serializers.TreeItem."""

    type = serializers.ChoiceField(choices=["file", "directory"])
    oid = serializers.CharField()
    size = serializers.IntegerField()
    path = serializers.CharField()
    lfs = TreeItemLfsSerializer(required=False)
    xetHash = serializers.CharField(required=False)
    lastCommit = LastCommitSerializer(required=False, help_text="With expand.")
    securityFileStatus = SecurityStatusSerializer(required=False, help_text="With expand, files only.")


TREE_PARAMETERS = [OpenApiParameter("recursive", bool), OpenApiParameter("expand", bool), *PAGINATION_PARAMETERS]


class PathsInfoSerializer(serializers.Serializer):
    """The client sends a form (`paths` repeated); a JSON object works too."""

    paths = serializers.ListField(child=serializers.CharField(), max_length=10000)
    expand = serializers.BooleanField(required=False)


class PreuploadFileSerializer(serializers.Serializer):
    path = serializers.CharField()
    size = serializers.IntegerField(min_value=0)
    sample = serializers.CharField(required=False, help_text="The first 512 bytes, base64.")


class PreuploadSerializer(serializers.Serializer):
    files = PreuploadFileSerializer(many=True, max_length=1000)
    gitIgnore = serializers.CharField(required=False, allow_blank=True)


class PreuploadModeSerializer(serializers.Serializer):
    path = serializers.CharField()
    uploadMode = serializers.ChoiceField(choices=["lfs", "regular"])
    shouldIgnore = serializers.BooleanField()
    oid = serializers.CharField(allow_null=True, help_text="The file's current blob id or sha256, if it exists.")


class PreuploadResultSerializer(serializers.Serializer):
    files = PreuploadModeSerializer(many=True)


COMMIT_BODY = {
    "application/x-ndjson": {
        "type": "string",
        "description": (
            'Newline-delimited JSON: first {"key": "header", "value": {"summary", "description"?, '
            '"parentCommit"?}}, then one line per operation: "file" {path, content (base64), encoding}, '
            '"lfsFile" {path, algo, oid, size}, "deletedFile" {path}, "deletedFolder" {path}.'
        ),
    }
}


class CommitResultSerializer(serializers.Serializer):
    commitUrl = serializers.CharField()
    commitOid = serializers.CharField()
    pullRequestUrl = serializers.CharField(allow_null=True)


class RepoSettingsSerializer(serializers.Serializer):
    gated = GatedField(required=False)
    visibility = serializers.ChoiceField(choices=["public", "private"], required=False)
    private = serializers.BooleanField(required=False, help_text="Legacy; `visibility` wins.")


class RepoSettingsResultSerializer(serializers.Serializer):
    private = serializers.BooleanField()
    gated = GatedField()


class RepoCreateSerializer(serializers.Serializer):
    name = serializers.CharField()
    organization = serializers.CharField(required=False, help_text="The caller's own namespace if absent.")
    type = serializers.ChoiceField(choices=["model", "dataset"], required=False, default="model")
    visibility = serializers.ChoiceField(choices=["public", "private"], required=False)
    private = serializers.BooleanField(required=False, help_text="Legacy; `visibility` wins.")


class RepoCreatedSerializer(serializers.Serializer):
    url = serializers.CharField()
    name = serializers.CharField()
    id = serializers.CharField()


class RepoMoveSerializer(serializers.Serializer):
    fromRepo = serializers.CharField(help_text="namespace/name")
    toRepo = serializers.CharField(help_text="namespace/name")
    type = serializers.ChoiceField(choices=["model", "dataset"], required=False, default="model")


class RepoUrlSerializer(serializers.Serializer):
    url = serializers.CharField()


class DeletedSerializer(serializers.Serializer):
    deleted = serializers.BooleanField()


class BranchCreateSerializer(serializers.Serializer):
    startingPoint = serializers.CharField(required=False, help_text="A revision; the default branch if absent.")


class TagCreateSerializer(serializers.Serializer):
    tag = serializers.CharField()
    message = serializers.CharField(required=False, allow_blank=True)


class ValidateYamlSerializer(serializers.Serializer):
    content = serializers.CharField(help_text="The whole README.md.")
    repoType = serializers.ChoiceField(choices=["model", "dataset"], required=False, default="model")


class MessageSerializer(serializers.Serializer):
    message = serializers.CharField()


class ValidateYamlResultSerializer(serializers.Serializer):
    errors = MessageSerializer(many=True)
    warnings = MessageSerializer(many=True)


class ErrorSerializer(serializers.Serializer):
    """Gatehouse's error body (core.api), also sent as X-Error-Message and X-Error-Code."""

    error = serializers.CharField()
    code = serializers.CharField()


# A card with errors, or a body that is not JSON at all (the usual error body).
VALIDATE_YAML_REFUSAL = PolymorphicProxySerializer(
    component_name="ValidateYamlRefusal",
    serializers=[ValidateYamlResultSerializer, ErrorSerializer],
    resource_type_field_name=None,
)


class DeletedRepoSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="namespace/name")
    type = serializers.ChoiceField(choices=["model", "dataset"])
    private = serializers.BooleanField()
    deletedAt = serializers.DateTimeField()
    purgeAt = serializers.DateTimeField(help_text="When the repo and its name are freed for good.")


class DeletedRepoAddressSerializer(serializers.Serializer):
    repo = serializers.CharField(help_text="namespace/name of a deleted repo")
    type = serializers.ChoiceField(choices=["model", "dataset"], required=False, default="model")


class RepoRestoredSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.ChoiceField(choices=["model", "dataset"])
    restored = serializers.BooleanField()


class RepoPurgedSerializer(serializers.Serializer):
    purged = serializers.BooleanField()


class StorageUsageSerializer(serializers.Serializer):
    lfs = serializers.IntegerField(help_text="Bytes of LFS content stored as plain objects")
    xet = serializers.IntegerField(help_text="Bytes of LFS content stored as Xet chunks")
    regular = serializers.IntegerField(help_text="Bytes of regular (inline) files")
    total = serializers.IntegerField()


class RepoSettingsStateSerializer(RepoSettingsResultSerializer):
    storage = StorageUsageSerializer(help_text="Distinct content the repo's whole history names")


class SuperSquashSerializer(serializers.Serializer):
    message = serializers.CharField(required=False)


class SuperSquashResultSerializer(serializers.Serializer):
    commitOid = serializers.CharField()


class LfsFileSerializer(serializers.Serializer):
    fileOid = serializers.CharField(help_text="sha256 of the content: what deletions name")
    oid = serializers.CharField(help_text="The LFS object id (the sha256)")
    filename = serializers.CharField(help_text="A path naming it, in the newest commit that does")
    pushedAt = serializers.DateTimeField()
    ref = serializers.CharField(allow_null=True)
    size = serializers.IntegerField()


class LfsDeletionsSerializer(serializers.Serializer):
    sha = serializers.ListField(child=serializers.CharField(), max_length=1000)
    rewriteHistory = serializers.BooleanField(required=False, help_text="Accepted; history is never rewritten")


class LfsDeleteSerializer(serializers.Serializer):
    deletions = LfsDeletionsSerializer()


class LfsDeletedSerializer(serializers.Serializer):
    deleted = serializers.IntegerField()
