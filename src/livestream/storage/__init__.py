"""Media storage: one interface (:mod:`livestream.storage.base`), local disk and S3 behind it."""

from livestream.storage.base import (
    COLD_STORAGE_CLASSES,
    InvalidKey,
    ObjectCold,
    ObjectNotFound,
    Storage,
    StorageError,
    StoredObject,
    validate_key,
)
from livestream.storage.factory import make_storage

__all__ = [
    "COLD_STORAGE_CLASSES",
    "InvalidKey",
    "ObjectCold",
    "ObjectNotFound",
    "Storage",
    "StorageError",
    "StoredObject",
    "make_storage",
    "validate_key",
]
