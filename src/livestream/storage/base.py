"""The one interface media storage goes through, its errors and the key rules every backend enforces.

Two backends: :class:`~livestream.storage.local.LocalStorage` (files under ``LS_MEDIA_DIR``) and
:class:`~livestream.storage.s3.S3Storage` (one bucket through boto3). ``make_storage`` picks one from the settings.
The same contract suite (``tests/storage/test_contract.py``) runs against both.

Keys are ``/``-separated relative paths (``archives/<archive_id>/v0.ts``). They are validated here, before any
backend sees them, so a key that is safe on S3 is safe as a path on disk and the other way round.
"""

from __future__ import annotations

import builtins
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

#: Storage classes whose objects must be restored before they can be read.
COLD_STORAGE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})

#: S3 allows 1,024 bytes; half leaves room for a local root directory within PATH_MAX-ish limits.
MAX_KEY_BYTES = 512


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int
    storage_class: str  # "STANDARD" for local files and S3 objects without a class


class StorageError(Exception):
    """The backend failed (I/O, network, permissions). Retrying may help."""


class ObjectNotFound(StorageError):
    """No object under that key."""


class ObjectCold(StorageError):
    """The object is in a cold storage class and must be restored before it can be read."""


class InvalidKey(ValueError):
    """The key (or prefix) breaks the key rules; nothing was attempted."""


def _show(key: str) -> str:
    """The key for an error message: quoted, control characters escaped, never unbounded."""
    text = repr(key)
    return text if len(text) <= 80 else text[:77] + "..."


def validate_key(key: str) -> str:
    """Refuse '' , keys over 512 bytes UTF-8, a leading '/', any '..' or '.' segment, empty segments ('a//b'),
    backslashes, NUL and other control characters; return the key."""
    if not key:
        raise InvalidKey("empty key")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError as exc:  # lone surrogates
        raise InvalidKey(f"key {_show(key)} is not valid UTF-8") from exc
    if size > MAX_KEY_BYTES:
        raise InvalidKey(f"key {_show(key)} is {size} bytes; the limit is {MAX_KEY_BYTES}")
    if key.startswith("/"):
        raise InvalidKey(f"key {_show(key)} starts with '/'")
    if "\\" in key:
        raise InvalidKey(f"key {_show(key)} contains a backslash")
    if any(unicodedata.category(ch) == "Cc" for ch in key):
        raise InvalidKey(f"key {_show(key)} contains a control character")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKey(f"key {_show(key)} has an empty, '.' or '..' segment")
    return key


def validate_prefix(prefix: str, *, allow_empty: bool = False) -> str:
    """A prefix follows the key rules, except that it may end with '/' (and be '' when ``allow_empty``)."""
    if not prefix and allow_empty:
        return prefix
    validate_key(prefix[:-1] if prefix.endswith("/") and len(prefix) > 1 else prefix)
    return prefix


def validate_dir_prefix(prefix: str) -> str:
    """A prefix naming a whole "directory": non-empty and ending with '/' (what ``delete_prefix`` needs)."""
    if not prefix.endswith("/"):
        raise InvalidKey(f"prefix {_show(prefix)} must be non-empty and end with '/'")
    return validate_prefix(prefix)


class Storage(Protocol):
    name: str  # "local" or "s3"

    async def put_file(self, key: str, path: Path, *, content_type: str, move: bool = False) -> int:
        """Store the file; returns the bytes stored. move=True: the source file may be consumed (local:
        os.replace when on the same filesystem, else copy then unlink; s3: upload then unlink). Atomic for
        readers: a reader never sees a half-written object (local: write to a temp name in the same dir, then
        os.replace). S3: multipart above s3_multipart_threshold_bytes (boto3 TransferConfig)."""
        ...

    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> int:
        """Store ``data``; returns its length. Atomic for readers, like ``put_file``."""
        ...

    async def read(self, key: str, start: int = 0, length: int | None = None) -> bytes:
        """Bytes [start, start+length) (to the end when length is None). ObjectNotFound, ObjectCold."""
        ...

    async def stat(self, key: str) -> StoredObject:
        """ObjectNotFound when missing."""
        ...

    async def list(self, prefix: str) -> builtins.list[StoredObject]:
        """Every object whose key starts with prefix, sorted by key ('' lists everything)."""
        ...

    async def delete(self, key: str) -> None:
        """Missing is fine."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Deletes everything under prefix (prefix must be non-empty and end with '/'); returns the count."""
        ...

    def local_path(self, key: str) -> Path | None:
        """local: the file's path (validated, inside the root); s3: None."""
        ...

    def playback_url(self, key: str) -> str | None:
        """Where a browser fetches the object directly: s3 → f"{cdn_base_url}/{key}" when LS_CDN_BASE_URL is set,
        else a presigned GET URL valid s3_presign_seconds (signing is local, no network); local → None (the app
        serves it)."""
        ...

    async def apply_lifecycle(self, prefix: str, days: int) -> None:
        """s3: put_bucket_lifecycle_configuration with one rule id 'livestream-archives-cold' (Filter
        Prefix=prefix, Transitions Days=days StorageClass GLACIER), replacing an existing rule of that id but
        keeping others. local: raise StorageError('lifecycle rules need LS_STORAGE=s3')."""
        ...

    async def restore(self, key: str, days: int = 7) -> bool:
        """s3: restore_object for a cold object (True when a restore was started or is in progress, False when
        the object is not cold). local: False."""
        ...

    async def close(self) -> None: ...
