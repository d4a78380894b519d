"""An S3-compatible server on loopback for the media tests: moto's server mode, spoken to over real HTTP by
real boto3 (the stand-in for AWS S3, MinIO or R2, which cannot run here)."""

import json
import uuid
from dataclasses import dataclass

import boto3
import pytest

from mailer.media import storage

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "mailer-test-key",
    "AWS_SECRET_ACCESS_KEY": "mailer-test-secret",
    "AWS_DEFAULT_REGION": "eu-central-1",
}


@dataclass
class Bucket:
    """A fresh bucket on the server, and a client to look inside it."""

    endpoint: str
    name: str
    client: object

    def object(self, key: str) -> dict:
        return self.client.get_object(Bucket=self.name, Key=key)  # type: ignore[attr-defined]

    def keys(self) -> list[str]:
        answer = self.client.list_objects_v2(Bucket=self.name)  # type: ignore[attr-defined]
        return sorted(item["Key"] for item in answer.get("Contents", []))


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on a free loopback port, for the whole session."""
    from moto.server import ThreadedMotoServer  # only the sessions that use it pay for importing moto

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_server, monkeypatch) -> Bucket:
    """An empty bucket of this test's own, readable by anyone (as the README asks: mail programs load images
    without credentials); boto3 finds its credentials in the usual AWS variables."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_server, region_name=CREDENTIALS["AWS_DEFAULT_REGION"])
    name = f"mailer-media-{uuid.uuid4().hex[:12]}"
    client.create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": CREDENTIALS["AWS_DEFAULT_REGION"]}
    )
    public_read = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{name}/*",
            }
        ],
    }
    client.put_bucket_policy(Bucket=name, Policy=json.dumps(public_read))
    return Bucket(s3_server, name, client)


@pytest.fixture
def s3_media(app, s3_bucket, tmp_path) -> Bucket:
    """The app keeps its media in the test's bucket (as MAILER_MEDIA_S3_* would say), no local files."""
    app.config.update(
        MAILER_MEDIA_S3_BUCKET=s3_bucket.name,
        MAILER_MEDIA_S3_ENDPOINT_URL=s3_bucket.endpoint,
        MAILER_MEDIA_S3_REGION=CREDENTIALS["AWS_DEFAULT_REGION"],
        MAILER_MEDIA_S3_PUBLIC_URL="",
        MEDIA_DIR=str(tmp_path / "local-media"),
    )
    storage.init_app(app)
    return s3_bucket
