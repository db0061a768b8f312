"""Model artifacts: one file holding everything needed to score again.

An artifact is a ``torch.save``d dict (weights, id maps, the interactions a
graph model propagates over, hyper-parameters, metrics, per-epoch curves),
loaded back with ``weights_only=True``. Its sha256 is recorded on the model
version and checked on every load, so a truncated or altered file is refused.

The store is a local directory (MODEL_STORE_URI, default var/models) or
``s3://bucket/prefix`` through boto3 (MODEL_STORE_ENDPOINT_URL for S3-compatible
servers such as moto in the tests).

Loading memory-maps the file (an S3 artifact is downloaded to a temporary
file first): the parts a reader never touches, such as the fitted
interactions a serving process does not need, never become resident, and no
second copy of the file sits in memory while it is unpacked.
"""

import contextlib
import hashlib
import io
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import torch

FORMAT = 1


class ArtifactError(Exception):
    """An artifact is missing, corrupted or unreadable."""


def sha256_hex(blob):
    return hashlib.sha256(blob).hexdigest()


class LocalStore:
    def __init__(self, root):
        self.root = Path(root)

    def put(self, name, blob):
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(path.suffix + ".partial")
        partial.write_bytes(blob)
        partial.replace(path)  # readers never see half a file
        return str(path.resolve())

    @contextlib.contextmanager
    def local_file(self, uri):
        path = Path(uri)
        if not path.is_file():
            raise ArtifactError(f"Artifact {uri} does not exist.")
        yield path


class S3Store:
    def __init__(self, bucket, prefix, endpoint_url=None):
        self.bucket, self.prefix, self.endpoint_url = bucket, prefix.strip("/"), endpoint_url or None
        self._client = None

    @property
    def client(self):
        if self._client is None:  # connect on first use, never at import
            import boto3

            self._client = boto3.client("s3", endpoint_url=self.endpoint_url)
        return self._client

    def put(self, name, blob):
        key = f"{self.prefix}/{name}" if self.prefix else name
        self.client.put_object(Bucket=self.bucket, Key=key, Body=blob)
        return f"s3://{self.bucket}/{key}"

    @contextlib.contextmanager
    def local_file(self, uri):
        """Streams the object into a temporary file, removed afterwards (a memory
        map of it stays valid: the data lives until the last mapping goes)."""
        from botocore.exceptions import ClientError

        parts = urlsplit(uri)
        with tempfile.NamedTemporaryFile(suffix=".pt") as file:
            try:
                self.client.download_fileobj(parts.netloc, parts.path.lstrip("/"), file)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                    raise ArtifactError(f"Artifact {uri} does not exist.") from None
                raise
            file.flush()
            yield Path(file.name)


def store_for(uri, endpoint_url=None):
    """The store behind a MODEL_STORE_URI or an artifact URI."""
    if uri.startswith("s3://"):
        parts = urlsplit(uri)
        return S3Store(parts.netloc, parts.path, endpoint_url)
    return LocalStore(uri)


def default_store():
    from django.conf import settings

    return store_for(settings.MODEL_STORE_URI, settings.MODEL_STORE_ENDPOINT_URL)


def dump(payload):
    """dict -> bytes of the artifact file."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buffer)
    return buffer.getvalue()


def save(store, folder, payload):
    """Writes the artifact under a name made of its sha256; returns (uri, size in bytes, sha256)."""
    blob = dump(payload)
    digest = sha256_hex(blob)
    return store.put(f"{folder}/{digest}.pt", blob), len(blob), digest


def file_sha256(path):
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def load(uri, expected_sha256, store=None):
    """The artifact's dict, after checking its sha256; tensors are memory-mapped."""
    if store is None:
        from django.conf import settings

        store = store_for(uri, settings.MODEL_STORE_ENDPOINT_URL)
    # Artifacts are named by their sha256 and written by rename, so the file
    # checked here is the file read next.
    with store.local_file(uri) as path:
        actual = file_sha256(path)
        if actual != expected_sha256:
            raise ArtifactError(f"Artifact {uri} is corrupted: its sha256 is {actual}, expected {expected_sha256}.")
        try:
            payload = torch.load(path, mmap=True, weights_only=True)
        except Exception as error:  # the checksum matched, so the writer produced something unreadable
            raise ArtifactError(f"Artifact {uri} cannot be read: {error}") from None
    if payload.get("format") != FORMAT:
        raise ArtifactError(f"Artifact {uri} has format {payload.get('format')!r}; this code reads format {FORMAT}.")
    return payload
