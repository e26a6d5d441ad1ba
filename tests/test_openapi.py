from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

# Routes whose bodies the schema leaves undescribed, each with the reason. Every other route (every
# native one: gating, licenses, community, previews, accounts) must declare real shapes; this list
# may only shrink (test_shapeless_allowlist_is_current fails on an entry that no longer applies).
SHAPELESS_ALLOWED: dict[str, str] = {
    # Git LFS's batch API has its own spec (git-lfs docs/api/batch.md), which git-lfs and
    # huggingface_hub follow; its views (registry/views/lfs.py) parse the bodies by hand.
    "POST /{namespace}/{name}.git/info/lfs/objects/batch": "Git LFS batch API",
    "POST /{namespace}/{name}.git/info/lfs/objects/verify": "Git LFS verify callback",
}


def test_openapi_schema_generates_without_warnings(tmp_path):
    """drf-spectacular's own validation of the schema; any warning fails."""
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").stat().st_size > 1000


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _is_shapeless(schema: dict, node: dict) -> bool:
    """A bare object (no properties) or a list of them: a body the schema says nothing about."""
    node = _resolve(schema, node)
    if node.get("type") == "array":
        return _is_shapeless(schema, node.get("items", {}))
    for key in ("oneOf", "anyOf", "allOf"):
        if key in node:
            return all(_is_shapeless(schema, part) for part in node[key])
    return node.get("type", "object") == "object" and not node.get("properties")


def shapeless_bodies(schema: dict) -> dict[str, list[str]]:
    """ "METHOD /path" -> what it declares without a shape: 'request (media type)' or 'response NNN'."""
    found: dict[str, list[str]] = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            route = f"{method.upper()} {path}"
            for media_type, body in operation.get("requestBody", {}).get("content", {}).items():
                if _is_shapeless(schema, body.get("schema", {})):
                    found.setdefault(route, []).append(f"request ({media_type})")
            for status, response in operation.get("responses", {}).items():
                if not str(status).startswith("2"):
                    continue
                for media_type, body in response.get("content", {}).items():
                    if _is_shapeless(schema, body.get("schema", {})):
                        found.setdefault(route, []).append(f"response {status} ({media_type})")
    return found


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_every_route_declares_its_shapes():
    """59 of 60 operations once declared OBJECT for both ways: a schema that documents nothing
    cannot drive a client or a fuzzer. Native routes must say what they take and return."""
    found = {route: parts for route, parts in shapeless_bodies(_schema()).items() if route not in SHAPELESS_ALLOWED}
    assert not found, "Routes that declare a bare object instead of a shape:\n" + "\n".join(
        f"  {route}: {', '.join(parts)}" for route, parts in sorted(found.items())
    )


def test_shapeless_allowlist_is_current():
    found = shapeless_bodies(_schema())
    stale = sorted(route for route in SHAPELESS_ALLOWED if route not in found)
    assert not stale, f"These routes now declare shapes (or are gone): drop them from SHAPELESS_ALLOWED: {stale}"
