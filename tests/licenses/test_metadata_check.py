"""The license metadata check that /api/validate-yaml (and the card editor) run."""

import pytest
from huggingface_hub import ModelCard

from licenses.checks import license_metadata_check


def test_unknown_license_ids_are_errors():
    errors, _ = license_metadata_check({"license": "mit-ish"}, "model")
    assert errors == [
        "'license: mit-ish' is not a known license id. Use one of the ids listed at /licenses, or 'other' "
        "with 'license_name' and 'license_link'."
    ]
    errors, _ = license_metadata_check({"license": "MIT"}, "model")
    assert "Did you mean 'mit'?" in errors[0]
    errors, _ = license_metadata_check({"license": ["apache-2.0", "nonsense"]}, "model")
    assert len(errors) == 1 and "nonsense" in errors[0]


@pytest.mark.parametrize("license_id", ["apache-2.0", "openrail++", "llama3.1", "cc-by-nc-sa-4.0", "unknown"])
def test_known_ids_pass(license_id):
    assert license_metadata_check({"license": license_id}, "model") == ([], [])
    assert license_metadata_check({}, "dataset") == ([], [])


def test_other_needs_a_name_and_names_need_other():
    errors, _ = license_metadata_check({"license": "other"}, "model")
    assert errors == ["'license: other' needs 'license_name' (and a LICENSE file or 'license_link')."]
    assert license_metadata_check({"license": "other", "license_name": "acme-1.0"}, "model") == ([], [])
    _, warnings = license_metadata_check({"license": "mit", "license_name": "acme"}, "model")
    assert warnings == ["'license_name' and 'license_link' are only used with 'license: other'."]


@pytest.mark.django_db(transaction=True)
def test_validate_yaml_through_the_client_reports_unknown_ids(hub):
    ModelCard("---\nlicense: apache-2.0\n---\n# ok\n").validate()
    with pytest.raises(ValueError, match="'license: apache-3.0' is not a known license id"):
        ModelCard("---\nlicense: apache-3.0\n---\n# bad\n").validate()
