"""The store the S3 tests run against refuses what a real one refuses: the tests that rely on a
refused signature would otherwise pass for the wrong reason."""

import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from tests.support.seaweedfs import BUCKET as S3_BUCKET


def test_seaweedfs_refuses_forged_signatures_and_anonymous_reads(s3_store):
    s3_store.client().put_object(Bucket=S3_BUCKET, Key="probe/object", Body=b"stored bytes")

    with pytest.raises(ClientError) as forged:
        s3_store.client(secret_key="not-the-secret").get_object(Bucket=S3_BUCKET, Key="probe/object")
    assert forged.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    with pytest.raises(urllib.error.HTTPError) as anonymous:
        urllib.request.urlopen(f"{s3_store.endpoint}/{S3_BUCKET}/probe/object")  # noqa: S310 - local store
    assert anonymous.value.code == 403
    assert s3_store.client().get_object(Bucket=S3_BUCKET, Key="probe/object")["Body"].read() == b"stored bytes"
