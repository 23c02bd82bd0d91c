from __future__ import annotations

from livestream.errors import BadRequest, Conflict, Forbidden, NotFound, ServiceUnavailable


class ArchiveNotFound(NotFound):
    code = "ARCHIVE_NOT_FOUND"
    message = "Archive not found"


class NotYourArchive(Forbidden):
    code = "NOT_YOUR_ARCHIVE"
    message = "This archive belongs to another creator"


class ArchiveNotFailed(Conflict):
    code = "ARCHIVE_NOT_FAILED"
    message = "Only a failed archive can be retried"


class ArchiveNotReady(Conflict):
    code = "ARCHIVE_NOT_READY"
    message = "This archive is still being prepared or has failed"


class ArchiveCold(Conflict):
    code = "ARCHIVE_COLD"
    message = (
        "This archive is in cold storage and cannot be played until it is restored; "
        "the operator restores it with `livestream storage restore archives/<archive_id>/` (docs/operations.md)"
    )

    @classmethod
    def of(cls, archive_id: object) -> ArchiveCold:
        return cls(
            "This archive is in cold storage and cannot be played until it is restored; the operator restores it "
            f"with `livestream storage restore archives/{archive_id}/` (docs/operations.md)",
            extra={"archive_id": str(archive_id)},
        )


class StorageUnavailable(ServiceUnavailable):
    code = "STORAGE_UNAVAILABLE"
    message = "Archive storage is not reachable right now; try again shortly"


class UserIdRequired(BadRequest):
    code = "VALIDATION_ERROR"
    message = "user_id is required: whose archives?"
