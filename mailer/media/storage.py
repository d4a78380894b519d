"""Where the media library's files live: under instance/ (the default) or in an S3-compatible bucket.

Both backends take the same content-hash names, so a file's name never changes wherever it is kept. The local
one writes MEDIA_DIR and the app serves `/media/<name>`; the S3 one (MAILER_MEDIA_S3_BUCKET set) puts each
object with its Content-Type and a year's immutable Cache-Control, and mail links to the bucket's public URL
(MAILER_MEDIA_S3_PUBLIC_URL, e.g. a CDN in front of it). Credentials come from boto3's usual chain: the
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY variables, a profile, or an instance role — never from a setting.
"""

import logging
import os
import re
from typing import Protocol
from urllib.parse import urlsplit

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, current_app

from mailer.core.urls import external_url

# The names the library gives its files (a content hash, an optional width, the type's extension).
FILE_NAME = re.compile(r"^[0-9a-f]{32}(?:-w[0-9]{2,5})?\.(jpg|png|gif|webp)$")
YEAR = 365 * 24 * 3600
CACHE_CONTROL = f"public, max-age={YEAR}, immutable"
EXTENSION = "mailer.media_storage"

log = logging.getLogger(__name__)


class StorageUnavailable(RuntimeError):
    """The storage did not take, or give back, a file; the message says so without technical detail."""


class MediaStorage(Protocol):
    """What the library needs of a place to keep its files."""

    def save(self, name: str, data: bytes, content_type: str) -> None: ...

    def delete(self, names: list[str]) -> None: ...

    def url(self, name: str) -> str: ...

    def base_url(self) -> str: ...


class LocalStorage:
    """Files in MEDIA_DIR (default instance/media), served by the app at /media/<name>."""

    def __init__(self, directory: str):
        self.directory = directory

    def path(self, name: str) -> str | None:
        """The path of a stored file by its public name, or None for a name that is not one of ours."""
        if not FILE_NAME.match(name):
            return None
        path = os.path.join(self.directory, name)
        return path if os.path.isfile(path) else None

    def save(self, name: str, data: bytes, content_type: str) -> None:
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, name)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)  # never a half-written file under a public name

    def delete(self, names: list[str]) -> None:
        for name in names:
            path = self.path(name)
            if path is not None:
                os.remove(path)

    def url(self, name: str) -> str:
        return external_url("public.media_file", name=name)

    def base_url(self) -> str:
        return f"{current_app.config['MAILER_BASE_URL']}/media/"


class S3Storage:
    """Objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2…), read by mail from its public URL."""

    def __init__(self, bucket: str, endpoint_url: str, region: str, public_url: str, prefix: str):
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.public_url = public_url or _default_public_url(bucket, endpoint_url, region)
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            config=BotoConfig(
                connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}
            ),
        )

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def save(self, name: str, data: bytes, content_type: str) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.key(name),
                Body=data,
                ContentType=content_type,
                CacheControl=CACHE_CONTROL,
            )
        except (BotoCoreError, ClientError) as exc:
            log.error("media storage refused an upload to bucket %s: %s", self.bucket, exc)
            raise StorageUnavailable(
                "The image could not be stored: the media storage did not accept it. Try again in a few "
                "minutes; if it keeps failing, an administrator should check the S3 settings."
            ) from None

    def delete(self, names: list[str]) -> None:
        if not names:
            return
        try:
            answer = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self.key(name)} for name in names], "Quiet": True},
            )
        except (BotoCoreError, ClientError) as exc:
            log.error("media storage refused a deletion in bucket %s: %s", self.bucket, exc)
            answer = {"Errors": [exc]}
        if answer.get("Errors"):
            raise StorageUnavailable(
                "The image could not be deleted: the media storage did not answer. Try again in a few "
                "minutes."
            )

    def url(self, name: str) -> str:
        return f"{self.public_url}/{self.key(name)}"

    def base_url(self) -> str:
        return f"{self.public_url}/{self.prefix}"


def _default_public_url(bucket: str, endpoint_url: str, region: str) -> str:
    """The bucket's URL when no public URL is given: path-style on a custom endpoint, else AWS's own."""
    if endpoint_url:
        return f"{endpoint_url.rstrip('/')}/{bucket}"
    return f"https://{bucket}.s3.{region or 'us-east-1'}.amazonaws.com"


def init_app(app: Flask) -> None:
    """Settle the bucket's public URL and let pages load images from its origin (their CSP's img-src)."""
    config = app.config
    bucket = config.get("MAILER_MEDIA_S3_BUCKET") or ""
    if not bucket:
        return
    public = (config.get("MAILER_MEDIA_S3_PUBLIC_URL") or "").rstrip("/") or _default_public_url(
        bucket, config.get("MAILER_MEDIA_S3_ENDPOINT_URL") or "", config.get("MAILER_MEDIA_S3_REGION") or ""
    )
    parts = urlsplit(public)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RuntimeError(
            "MAILER_MEDIA_S3_PUBLIC_URL must be an http(s) URL such as https://media.example.com, "
            f"not {public!r}"
        )
    config["MAILER_MEDIA_S3_PUBLIC_URL"] = public
    config["MEDIA_IMAGE_ORIGIN"] = f"{parts.scheme}://{parts.netloc}"


def local_dir() -> str:
    """Where local files live: MEDIA_DIR, else instance/media."""
    return current_app.config.get("MEDIA_DIR") or os.path.join(current_app.instance_path, "media")


def storage() -> MediaStorage:
    """The app's storage: S3 when MAILER_MEDIA_S3_BUCKET is set, else local files (made once per app)."""
    config = current_app.config
    bucket = config.get("MAILER_MEDIA_S3_BUCKET") or ""
    if not bucket:
        return LocalStorage(local_dir())
    made = current_app.extensions.get(EXTENSION)
    if made is None or made.bucket != bucket:
        made = S3Storage(
            bucket,
            config.get("MAILER_MEDIA_S3_ENDPOINT_URL") or "",
            config.get("MAILER_MEDIA_S3_REGION") or "",
            config.get("MAILER_MEDIA_S3_PUBLIC_URL") or "",
            config.get("MAILER_MEDIA_S3_PREFIX") or "",
        )
        current_app.extensions[EXTENSION] = made
    return made


def in_bucket() -> bool:
    """Whether the files are kept in an S3-compatible bucket."""
    return bool(current_app.config.get("MAILER_MEDIA_S3_BUCKET"))
