"""What only the local backend does: paths under LS_MEDIA_DIR, symlink escapes, renames, temporary files and
empty directories."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from livestream.storage import InvalidKey, ObjectNotFound, StorageError
from livestream.storage.local import LocalStorage
from tests.support.s3_server import storage_settings


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[LocalStorage]:
    backend = LocalStorage(storage_settings(tmp_path).media_dir)
    yield backend
    await backend.close()


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink())


async def test_keys_are_paths_under_the_media_dir(storage: LocalStorage, tmp_path: Path) -> None:
    await storage.put_bytes("archives/x/v0.ts", b"data", content_type="video/mp2t")
    root = (tmp_path / "media").resolve()
    assert storage.local_path("archives/x/v0.ts") == root / "archives/x/v0.ts"
    assert (root / "archives/x/v0.ts").read_bytes() == b"data"
    assert storage.playback_url("archives/x/v0.ts") is None
    assert await storage.restore("archives/x/v0.ts") is False
    with pytest.raises(StorageError, match="LS_STORAGE=s3"):
        await storage.apply_lifecycle("archives/", 90)


async def test_symlinks_cannot_lead_outside_the_root(storage: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"not media")
    root = tmp_path / "media"
    root.mkdir()
    (root / "dir-link").symlink_to(outside, target_is_directory=True)
    (root / "file-link").symlink_to(outside / "secret")

    for key in ("dir-link/secret", "file-link"):
        with pytest.raises(InvalidKey):
            await storage.read(key)
        with pytest.raises(InvalidKey):
            storage.local_path(key)
    with pytest.raises(InvalidKey):
        await storage.put_bytes("dir-link/planted", b"x", content_type="text/plain")
    with pytest.raises(InvalidKey):
        await storage.delete("file-link")
    with pytest.raises(InvalidKey):
        await storage.list("dir-link/")
    with pytest.raises(InvalidKey):
        await storage.delete_prefix("dir-link/")
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    # Walking the root does not follow the links either.
    assert await storage.list("") == []
    assert await storage.delete_prefix("dir-link-not/") == 0


async def test_writes_leave_no_temporary_files(storage: LocalStorage, tmp_path: Path) -> None:
    source = tmp_path / "src.ts"
    source.write_bytes(b"x" * 100_000)
    await storage.put_bytes("a/one.ts", b"1", content_type="video/mp2t")
    await storage.put_file("a/two.ts", source, content_type="video/mp2t")
    await storage.put_file("a/three.ts", source, content_type="video/mp2t", move=True)
    assert _files(tmp_path / "media") == ["a/one.ts", "a/three.ts", "a/two.ts"]


async def test_readers_never_see_a_partial_object(storage: LocalStorage, tmp_path: Path) -> None:
    size = 16 * 1024 * 1024
    source = tmp_path / "big.ts"
    source.write_bytes(b"v" * size)
    seen: set[tuple[str, int]] = set()
    write = asyncio.create_task(storage.put_file("live/big.ts", source, content_type="video/mp2t"))
    while not write.done():
        seen.update((o.key, o.size) for o in await storage.list("live/"))
        await asyncio.sleep(0)
    assert await write == size
    seen.update((o.key, o.size) for o in await storage.list("live/"))
    assert seen == {("live/big.ts", size)}


async def test_temporary_names_are_hidden_and_reserved(storage: LocalStorage, tmp_path: Path) -> None:
    await storage.put_bytes("a/real.ts", b"x", content_type="video/mp2t")
    leftover = tmp_path / "media" / "a" / f".ls-tmp-{'0' * 32}-real.ts"  # what a crash mid-write leaves
    leftover.write_bytes(b"half")
    assert [o.key for o in await storage.list("a/")] == ["a/real.ts"]
    with pytest.raises(InvalidKey, match="temporary"):
        await storage.put_bytes(f"a/.ls-tmp-{'1' * 32}-x", b"x", content_type="text/plain")
    assert await storage.delete_prefix("a/") == 1  # the leftover goes too, but is not an object
    assert not (tmp_path / "media" / "a").exists()


async def test_delete_prefix_removes_the_emptied_directories(storage: LocalStorage, tmp_path: Path) -> None:
    for key in ("a/b/c/1.ts", "a/b/2.ts", "a/x/3.ts", "ab/keep.ts", "other/keep.ts"):
        await storage.put_bytes(key, b"x", content_type="video/mp2t")
    (tmp_path / "media" / "a" / "empty").mkdir()
    assert await storage.delete_prefix("a/b/") == 2
    assert not (tmp_path / "media" / "a" / "b").exists()
    assert await storage.delete_prefix("a/") == 1
    assert not (tmp_path / "media" / "a").exists()
    assert _files(tmp_path / "media") == ["ab/keep.ts", "other/keep.ts"]


async def test_move_renames_on_the_same_filesystem_and_copy_does_not(storage: LocalStorage, tmp_path: Path) -> None:
    source = tmp_path / "segment.ts"
    source.write_bytes(b"segment")
    inode = source.stat().st_ino
    await storage.put_file("m/moved.ts", source, content_type="video/mp2t", move=True)
    moved = storage.local_path("m/moved.ts")
    assert moved is not None
    assert moved.stat().st_ino == inode  # renamed, not copied
    assert not source.exists()

    source.write_bytes(b"segment")
    await storage.put_file("m/copied.ts", source, content_type="video/mp2t")
    copied = storage.local_path("m/copied.ts")
    assert copied is not None
    assert copied.stat().st_ino != source.stat().st_ino
    assert source.read_bytes() == copied.read_bytes() == b"segment"


async def test_storing_an_objects_own_file_keeps_it(storage: LocalStorage) -> None:
    await storage.put_bytes("own/v0.ts", b"mine", content_type="video/mp2t")
    own = storage.local_path("own/v0.ts")
    assert own is not None
    for move in (False, True):
        assert await storage.put_file("own/v0.ts", own, content_type="video/mp2t", move=move) == 4
        assert await storage.read("own/v0.ts") == b"mine"


async def test_os_errors_become_storage_errors(storage: LocalStorage, tmp_path: Path) -> None:
    await storage.put_bytes("f", b"a file", content_type="text/plain")
    with pytest.raises(StorageError) as caught:
        await storage.put_bytes("f/under-a-file", b"x", content_type="text/plain")
    assert not isinstance(caught.value, ObjectNotFound)
    with pytest.raises(ObjectNotFound):
        await storage.read("f/under-a-file")
    with pytest.raises(StorageError):
        await storage.put_file("g", tmp_path / "no-such-source", content_type="text/plain")
    os.makedirs(tmp_path / "media" / "dir")
    with pytest.raises(ObjectNotFound):
        await storage.stat("dir")
    with pytest.raises(ObjectNotFound):
        await storage.read("dir")
