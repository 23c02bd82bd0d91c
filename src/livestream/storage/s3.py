"""Objects in one S3 bucket (AWS, MinIO, R2 or a local test server), through boto3.

Credentials are never settings: boto3's standard chain finds them (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_PROFILE``, web identity, the instance role). The client is made on first use, on a worker thread, because
walking that chain may ask the instance metadata service. Every boto3 call runs on a worker thread; the client is
thread-safe once made.

Errors: a missing key is :class:`ObjectNotFound`, an object in a cold class is :class:`ObjectCold`, anything else
(HTTP errors, connection failures, timeouts) is :class:`StorageError` with a short message naming the operation,
the key and the S3 error code, never the request or its signature.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import boto3  # type: ignore[import-untyped]
import urllib3.exceptions
from boto3.exceptions import Boto3Error  # type: ignore[import-untyped]
from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from livestream.config import Settings
from livestream.storage.base import (
    COLD_STORAGE_CLASSES,
    ObjectCold,
    ObjectNotFound,
    StorageError,
    StoredObject,
    validate_dir_prefix,
    validate_key,
    validate_prefix,
)

T = TypeVar("T")

LIFECYCLE_RULE_ID = "livestream-archives-cold"
DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes
LIST_PAGE_SIZE = 1000  # the most keys one ListObjectsV2 page returns

CLIENT_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=5,
    read_timeout=60,
    max_pool_connections=16,
    signature_version="s3v4",
)
_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})
_FAILURES = (ClientError, BotoCoreError, Boto3Error, urllib3.exceptions.HTTPError, OSError)


class S3Storage:
    name = "s3"

    def __init__(self, settings: Settings, *, client_config: Any = None) -> None:
        """``client_config`` (a ``botocore.config.Config``) is merged over ``CLIENT_CONFIG``; tests use it to
        shorten retries."""
        if not settings.s3_bucket:
            raise ValueError("S3Storage needs LS_S3_BUCKET")
        self.bucket = settings.s3_bucket
        self.endpoint_url = settings.s3_endpoint_url
        self.region = settings.s3_region
        self.presign_seconds = settings.s3_presign_seconds
        self.cdn_base_url = settings.cdn_base_url.rstrip("/") if settings.cdn_base_url else None
        self.multipart_threshold = settings.s3_multipart_threshold_bytes
        config = CLIENT_CONFIG
        if self.endpoint_url:  # MinIO and most test servers do not serve bucket-name subdomains
            config = config.merge(Config(s3={"addressing_style": "path"}))
        if client_config is not None:
            config = config.merge(client_config)
        self._config = config
        self._client_obj: Any = None
        self._client_lock = threading.Lock()

    # --- the client ----------------------------------------------------------------------------------

    def _client(self) -> Any:
        """The boto3 client, made on first use (blocking: call it on a worker thread)."""
        with self._client_lock:
            if self._client_obj is None:
                session = boto3.session.Session()
                self._client_obj = session.client(
                    "s3", endpoint_url=self.endpoint_url, region_name=self.region, config=self._config
                )
            return self._client_obj

    async def _call(self, what: str, key: str, work: Callable[[Any], T]) -> T:
        """``work(client)`` on a worker thread, with botocore's errors mapped to ours."""

        def run() -> T:
            return work(self._client())

        try:
            return await asyncio.to_thread(run)
        except _FAILURES as exc:
            raise _mapped(what, key, exc) from exc

    # --- writes --------------------------------------------------------------------------------------

    async def put_file(self, key: str, path: Path, *, content_type: str, move: bool = False) -> int:
        validate_key(key)
        transfer = TransferConfig(
            multipart_threshold=self.multipart_threshold,
            multipart_chunksize=self.multipart_threshold,  # s3transfer grows it when 10,000 parts would not do
            max_concurrency=8,
            preferred_transfer_client="classic",
        )

        def upload(client: Any) -> int:
            size = os.stat(path).st_size
            client.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type}, Config=transfer)
            return size

        size = await self._call("put", key, upload)
        if move:
            try:
                await asyncio.to_thread(path.unlink, missing_ok=True)
            except OSError as exc:
                raise StorageError(f"s3 put {key!r}: stored, but the source file stayed ({exc.strerror})") from exc
        return size

    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> int:
        validate_key(key)
        await self._call(
            "put",
            key,
            lambda client: client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type),
        )
        return len(data)

    async def delete(self, key: str) -> None:
        validate_key(key)
        await self._call("delete", key, lambda client: client.delete_object(Bucket=self.bucket, Key=key))

    async def delete_prefix(self, prefix: str) -> int:
        validate_dir_prefix(prefix)

        def delete_all(client: Any) -> int:
            keys = [obj.key for obj in self._list_sync(client, prefix)]
            for start in range(0, len(keys), DELETE_BATCH):
                batch = keys[start : start + DELETE_BATCH]
                response = client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                )
                errors = response.get("Errors") or []
                if errors:
                    first = errors[0]
                    raise StorageError(
                        f"s3 delete {prefix}: {len(errors)} of {len(batch)} keys failed "
                        f"(first: {first.get('Key')!r}, {first.get('Code')})"
                    )
            return len(keys)

        return await self._call("delete", prefix, delete_all)

    # --- reads ---------------------------------------------------------------------------------------

    async def read(self, key: str, start: int = 0, length: int | None = None) -> bytes:
        validate_key(key)
        if start < 0 or (length is not None and length < 0):
            raise ValueError("start and length must not be negative")
        if length == 0:
            await self.stat(key)  # still ObjectNotFound for a missing key
            return b""

        def get(client: Any) -> bytes:
            args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
            if start or length is not None:
                end = "" if length is None else str(start + length - 1)
                args["Range"] = f"bytes={start}-{end}"
            try:
                response = client.get_object(**args)
            except ClientError as exc:
                if _code(exc) == "InvalidRange":  # start at or past the end (or an empty object): nothing there
                    return b""
                raise
            with response["Body"] as body:
                data: bytes = body.read()
            return data

        return await self._call("read", key, get)

    async def stat(self, key: str) -> StoredObject:
        validate_key(key)
        head = await self._call("stat", key, lambda client: client.head_object(Bucket=self.bucket, Key=key))
        return StoredObject(
            key=key, size=int(head["ContentLength"]), storage_class=head.get("StorageClass") or "STANDARD"
        )

    async def list(self, prefix: str) -> builtins.list[StoredObject]:
        validate_prefix(prefix, allow_empty=True)
        return await self._call("list", prefix, lambda client: self._list_sync(client, prefix))

    def _list_sync(self, client: Any, prefix: str) -> builtins.list[StoredObject]:
        found: builtins.list[StoredObject] = []
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, PaginationConfig={"PageSize": LIST_PAGE_SIZE}
        ):
            for item in page.get("Contents", ()):
                found.append(
                    StoredObject(
                        key=item["Key"], size=int(item["Size"]), storage_class=item.get("StorageClass") or "STANDARD"
                    )
                )
        # S3 already lists in UTF-8 byte order, which is code-point order; sorting keeps the promise explicit.
        found.sort(key=lambda obj: obj.key)
        return found

    def local_path(self, key: str) -> Path | None:
        validate_key(key)
        return None

    def playback_url(self, key: str) -> str | None:
        validate_key(key)
        if self.cdn_base_url:
            return f"{self.cdn_base_url}/{quote(key, safe='/~')}"
        # Signing is local arithmetic; only the first call may block, to make the client (see _client).
        try:
            url: str = self._client().generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.presign_seconds
            )
        except _FAILURES as exc:
            raise _mapped("presign", key, exc) from exc
        return url

    # --- cold storage --------------------------------------------------------------------------------

    async def apply_lifecycle(self, prefix: str, days: int) -> None:
        validate_prefix(prefix)
        if days < 1:
            raise ValueError("days must be at least 1")
        rule = {
            "ID": LIFECYCLE_RULE_ID,
            "Filter": {"Prefix": prefix},
            "Status": "Enabled",
            "Transitions": [{"Days": days, "StorageClass": "GLACIER"}],
        }

        def put(client: Any) -> None:
            try:
                current = client.get_bucket_lifecycle_configuration(Bucket=self.bucket)
                rules = [r for r in current.get("Rules", []) if r.get("ID") != LIFECYCLE_RULE_ID]
            except ClientError as exc:
                if _code(exc) != "NoSuchLifecycleConfiguration":
                    raise
                rules = []
            client.put_bucket_lifecycle_configuration(
                Bucket=self.bucket, LifecycleConfiguration={"Rules": [*rules, rule]}
            )

        await self._call("lifecycle", prefix, put)

    async def restore(self, key: str, days: int = 7) -> bool:
        validate_key(key)
        if days < 1:
            raise ValueError("days must be at least 1")

        def start_restore(client: Any) -> bool:
            head = client.head_object(Bucket=self.bucket, Key=key)
            if head.get("StorageClass") not in COLD_STORAGE_CLASSES:
                return False
            if 'ongoing-request="true"' in (head.get("Restore") or ""):
                return True
            try:
                # 202: started; 200: already restored, the temporary copy's expiry is moved to ``days`` from now.
                client.restore_object(
                    Bucket=self.bucket,
                    Key=key,
                    RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": "Standard"}},
                )
            except ClientError as exc:
                if _code(exc) == "RestoreAlreadyInProgress":
                    return True
                raise
            return True

        return await self._call("restore", key, start_restore)

    async def close(self) -> None:
        with self._client_lock:
            client, self._client_obj = self._client_obj, None
        if client is not None:
            await asyncio.to_thread(client.close)


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _mapped(what: str, key: str, exc: BaseException) -> StorageError:
    """Our error for a boto3/botocore/urllib3/OS failure. The message names the operation, the key and the error
    code or class only: botocore's own messages can carry endpoint URLs and server-supplied text."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, ClientError):
        code = _code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _NOT_FOUND:
            return ObjectNotFound(f"no object {key!r}")
        if code == "InvalidObjectState":
            return ObjectCold(f"object {key!r} is in cold storage; restore it first (livestream storage restore)")
        return StorageError(f"s3 {what} {key!r}: {code or 'error'} (HTTP {status})")
    if isinstance(exc, Boto3Error) and isinstance(exc.__context__, ClientError):
        return _mapped(what, key, exc.__context__)  # upload_file wraps ClientError in S3UploadFailedError
    return StorageError(f"s3 {what} {key!r}: {type(exc).__name__}")
