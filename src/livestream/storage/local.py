"""Objects as files under ``LS_MEDIA_DIR``: key ``archives/x/v0.ts`` is ``<media_dir>/archives/x/v0.ts``.

Writes go to a temporary name in the object's own directory and are renamed into place (``os.replace``), so a
reader sees the old object or the whole new one, never half of it. Temporary names match ``TEMP_NAME`` and are
never listed; keys whose last segment looks like one are refused so the two can never be confused.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import errno
import os
import re
import shutil
import stat
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeVar

from livestream.storage.base import (
    InvalidKey,
    ObjectNotFound,
    StorageError,
    StoredObject,
    validate_dir_prefix,
    validate_key,
    validate_prefix,
)

T = TypeVar("T")

TEMP_NAME = re.compile(r"^\.ls-tmp-[0-9a-f]{32}-")
_MISSING = (errno.ENOENT, errno.ENOTDIR, errno.EISDIR)


def _temp_name(name: str) -> str:
    return f".ls-tmp-{uuid.uuid4().hex}-{name}"


class LocalStorage:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    # --- paths ---------------------------------------------------------------------------------------

    def _resolved_root(self) -> Path:
        return self.root.resolve()

    def _inside(self, relative: str, *, allow_root: bool = False) -> Path:
        """``root/relative`` after resolving symlinks; InvalidKey when that leaves the root."""
        root = self._resolved_root()
        path = (root / relative).resolve() if relative else root
        if path == root and not allow_root:
            raise InvalidKey(f"key {relative!r} names the storage root")
        if path != root and not path.is_relative_to(root):
            raise InvalidKey(f"key {relative!r} resolves outside the storage root")
        return path

    def _path(self, key: str) -> Path:
        validate_key(key)
        if TEMP_NAME.match(key.rsplit("/", 1)[-1]):
            raise InvalidKey(f"key {key!r} looks like a temporary file name")
        return self._inside(key)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    # --- writes --------------------------------------------------------------------------------------

    async def put_file(self, key: str, path: Path, *, content_type: str, move: bool = False) -> int:
        target = self._path(key)
        return await _run(f"put {key}", lambda: _put_file(target, path, move=move))

    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> int:
        target = self._path(key)
        return await _run(f"put {key}", lambda: _write_atomically(target, lambda out: out.write(data)))

    async def delete(self, key: str) -> None:
        target = self._path(key)
        await _run(f"delete {key}", lambda: _unlink(target))

    async def delete_prefix(self, prefix: str) -> int:
        validate_dir_prefix(prefix)
        directory = self._inside(prefix.rstrip("/"))
        return await _run(f"delete {prefix}", lambda: _delete_tree(directory))

    # --- reads ---------------------------------------------------------------------------------------

    async def read(self, key: str, start: int = 0, length: int | None = None) -> bytes:
        if start < 0 or (length is not None and length < 0):
            raise ValueError("start and length must not be negative")
        target = self._path(key)
        return await _run(f"read {key}", lambda: _read(target, start, length), missing=key)

    async def stat(self, key: str) -> StoredObject:
        target = self._path(key)
        return await _run(f"stat {key}", lambda: _stat(key, target), missing=key)

    async def list(self, prefix: str) -> builtins.list[StoredObject]:
        validate_prefix(prefix, allow_empty=True)
        base, _, _ = prefix.rpartition("/")
        directory = self._inside(base, allow_root=True)
        found = await _run(f"list {prefix}", lambda: _walk(directory, base + "/" if base else ""))
        return sorted((obj for obj in found if obj.key.startswith(prefix)), key=lambda obj: obj.key)

    # --- what only S3 does ---------------------------------------------------------------------------

    def playback_url(self, key: str) -> str | None:
        validate_key(key)
        return None

    async def apply_lifecycle(self, prefix: str, days: int) -> None:
        validate_prefix(prefix)
        raise StorageError("lifecycle rules need LS_STORAGE=s3")

    async def restore(self, key: str, days: int = 7) -> bool:
        validate_key(key)
        return False

    async def close(self) -> None:
        return None


async def _run(what: str, work: Callable[[], T], *, missing: str | None = None) -> T:
    """Run blocking file work on a thread; OSError becomes StorageError (ObjectNotFound when ``missing``)."""
    try:
        return await asyncio.to_thread(work)
    except OSError as exc:
        if missing is not None and exc.errno in _MISSING:
            raise ObjectNotFound(f"no object {missing!r}") from exc
        raise StorageError(f"local storage: {what}: {exc.strerror or type(exc).__name__}") from exc


def _open_temp(target: Path) -> tuple[Path, BinaryIO]:
    """A new temporary file beside ``target``, creating the directories on the way."""
    for attempt in range(3):
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(_temp_name(target.name))
        try:
            return temp, open(temp, "xb")  # closed by the caller
        except FileNotFoundError:
            # A concurrent delete_prefix removed the (then empty) directory between mkdir and open: again.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _write_atomically(target: Path, write: Callable[[BinaryIO], object]) -> int:
    temp, out = _open_temp(target)
    try:
        with out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
            size = os.fstat(out.fileno()).st_size
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return size


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (the directory entry itself)."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _put_file(target: Path, source: Path, *, move: bool) -> int:
    if source.resolve() == target:  # the object's own file: nothing to copy, nothing to consume
        return target.stat().st_size
    if move:
        # A rename is atomic and costs nothing; the file keeps its permission bits. Across filesystems: copy.
        for _ in range(3):
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                # Durable before it is visible: the caller may delete what the file was made from next.
                with open(source, "rb") as pending:
                    os.fsync(pending.fileno())
                os.replace(source, target)
                _fsync_dir(target.parent)
                return target.stat().st_size
            except FileNotFoundError:
                if not source.exists():
                    raise
                # The directory went away under a concurrent delete_prefix; make it again.
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                break
    with open(source, "rb") as src:
        size = _write_atomically(target, lambda out: shutil.copyfileobj(src, out, 1024 * 1024))
    if move:
        source.unlink(missing_ok=True)
    return size


def _read(target: Path, start: int, length: int | None) -> bytes:
    with open(target, "rb") as src:
        src.seek(start)
        return src.read(-1 if length is None else length)


def _stat(key: str, target: Path) -> StoredObject:
    info = os.stat(target)
    if not stat.S_ISREG(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "not a file")
    return StoredObject(key=key, size=info.st_size, storage_class="STANDARD")


def _unlink(target: Path) -> None:
    try:
        os.unlink(target)
    except OSError as exc:
        if exc.errno not in _MISSING:
            raise


def _walk(directory: Path, key_prefix: str) -> builtins.list[StoredObject]:
    """Regular files under ``directory`` (symlinks and temporary files are not objects)."""
    found: builtins.list[StoredObject] = []
    pending = [(str(directory), key_prefix)]
    while pending:
        path, prefix = pending.pop()
        try:
            entries = os.scandir(path)
        except (FileNotFoundError, NotADirectoryError):
            continue  # absent, or removed while we walked
        with entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, f"{prefix}{entry.name}/"))
                elif entry.is_file(follow_symlinks=False) and not TEMP_NAME.match(entry.name):
                    key = prefix + entry.name
                    try:
                        validate_key(key)  # a file put there by other means with a name no key can have
                        size = entry.stat(follow_symlinks=False).st_size
                    except (InvalidKey, FileNotFoundError):
                        continue
                    found.append(StoredObject(key=key, size=size, storage_class="STANDARD"))
    return found


def _delete_tree(directory: Path) -> int:
    """Delete the files under ``directory`` (counting objects, not temporary files), then the empty directories."""
    count = 0
    for dirpath, dirnames, filenames in os.walk(directory, topdown=False):
        for name in filenames:
            try:
                os.unlink(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            if not TEMP_NAME.match(name):
                count += 1
        for name in dirnames:
            with contextlib.suppress(OSError):  # not empty (a concurrent write), or a symlink: left alone
                os.rmdir(os.path.join(dirpath, name))
    with contextlib.suppress(OSError):
        os.rmdir(directory)
    return count
