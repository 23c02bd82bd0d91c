"""Choose the storage backend from the settings."""

from __future__ import annotations

from livestream.config import Settings
from livestream.storage.base import Storage
from livestream.storage.local import LocalStorage


def make_storage(settings: Settings) -> Storage:
    """S3 when ``LS_STORAGE=s3`` (several hosts, a CDN, cold archives), files under ``LS_MEDIA_DIR`` otherwise."""
    if settings.storage == "s3":
        from livestream.storage.s3 import S3Storage  # boto3 is imported only by deployments that use it

        return S3Storage(settings)
    return LocalStorage(settings.media_dir)
