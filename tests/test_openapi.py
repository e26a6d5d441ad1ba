from django.core.management import call_command


def test_openapi_schema_generates_without_warnings(tmp_path):
    """drf-spectacular's own validation of the schema; any warning fails."""
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").stat().st_size > 1000
