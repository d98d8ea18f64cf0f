"""The raw-body archive: every verified webhook body, unchanged, keyed by its content hash (S3)."""

from __future__ import annotations

import hashlib
from typing import Protocol


class Archive(Protocol):
    def put(self, raw_body: bytes, source: str) -> str: ...


def archive_key(raw_body: bytes, source: str) -> str:
    digest = hashlib.sha256(raw_body).hexdigest()
    # Spread keys under a short prefix; the same body always lands on the same key (retries are free).
    return f"{source}/{digest[:2]}/{digest}.json"


class S3Archive:
    def __init__(self, client, bucket: str):
        self.client = client
        self.bucket = bucket

    def put(self, raw_body: bytes, source: str) -> str:
        key = archive_key(raw_body, source)
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=raw_body, ContentType="application/json",
            ServerSideEncryption="AES256",
        )
        return key


class MemoryArchive:
    """In-memory fake for unit tests; can be told to fail."""

    def __init__(self):
        self.objects: dict[str, bytes] = {}
        self.fail_next = 0

    def put(self, raw_body: bytes, source: str) -> str:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("fake S3 is down")
        key = archive_key(raw_body, source)
        self.objects[key] = raw_body
        return key
