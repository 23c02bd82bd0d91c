"""One contract for media storage, run against local disk and a real S3-protocol server (moto on loopback)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from livestream.storage import InvalidKey, ObjectNotFound, Storage, StorageError, StoredObject, make_storage
from tests.support.s3_server import make_bucket, storage_settings, use_test_credentials

DATA = bytes(range(256)) * 4  # 1,024 bytes, every offset distinguishable


@pytest.fixture(params=["local", "s3"])
async def storage(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Storage]:
    if request.param == "local":
        settings = storage_settings(tmp_path)
    else:
        endpoint: str = request.getfixturevalue("s3_endpoint")
        use_test_credentials(monkeypatch, tmp_path)
        settings = storage_settings(tmp_path, storage="s3", s3_bucket=make_bucket(endpoint), s3_endpoint_url=endpoint)
    backend = make_storage(settings)
    assert backend.name == request.param
    try:
        yield backend
    finally:
        await backend.close()


def _source(tmp_path: Path, data: bytes, name: str = "source.bin") -> Path:
    path = tmp_path / "uploads" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


async def test_put_bytes_then_stat_and_read(storage: Storage) -> None:
    assert await storage.put_bytes("archives/a/v0.ts", DATA, content_type="video/mp2t") == len(DATA)
    assert await storage.stat("archives/a/v0.ts") == StoredObject("archives/a/v0.ts", len(DATA), "STANDARD")
    assert await storage.read("archives/a/v0.ts") == DATA


async def test_put_file_copies_and_keeps_the_source(storage: Storage, tmp_path: Path) -> None:
    source = _source(tmp_path, DATA)
    assert await storage.put_file("archives/a/v0.ts", source, content_type="video/mp2t") == len(DATA)
    assert source.read_bytes() == DATA
    assert (await storage.stat("archives/a/v0.ts")).size == len(DATA)
    assert await storage.read("archives/a/v0.ts") == DATA


async def test_put_file_move_consumes_the_source(storage: Storage, tmp_path: Path) -> None:
    source = _source(tmp_path, DATA)
    assert await storage.put_file("archives/a/v0.ts", source, content_type="video/mp2t", move=True) == len(DATA)
    assert not source.exists()
    assert await storage.read("archives/a/v0.ts") == DATA


async def test_a_second_put_replaces_the_object(storage: Storage) -> None:
    await storage.put_bytes("k/v", b"first version", content_type="text/plain")
    await storage.put_bytes("k/v", b"second", content_type="text/plain")
    assert await storage.read("k/v") == b"second"
    assert (await storage.stat("k/v")).size == 6


async def test_read_by_range(storage: Storage) -> None:
    await storage.put_bytes("r/obj", DATA, content_type="application/octet-stream")
    assert await storage.read("r/obj", 10, 20) == DATA[10:30]
    assert await storage.read("r/obj", 0, 1) == DATA[:1]
    assert await storage.read("r/obj", 1000) == DATA[1000:]
    assert await storage.read("r/obj", 1000, 100) == DATA[1000:]  # a length past the end stops at the end
    assert await storage.read("r/obj", 1023, 1) == DATA[1023:]
    assert await storage.read("r/obj", 1024) == b""
    assert await storage.read("r/obj", 5000, 10) == b""
    assert await storage.read("r/obj", 7, 0) == b""
    with pytest.raises(ValueError, match="negative"):
        await storage.read("r/obj", -1)


async def test_list_by_prefix_is_sorted_and_stays_inside_the_prefix(storage: Storage) -> None:
    keys = ["a/z.ts", "a/b/2.ts", "a/b/10.ts", "a/a.m3u8", "ab/x.ts", "b/y.ts"]
    for i, key in enumerate(keys):
        await storage.put_bytes(key, b"x" * i, content_type="application/octet-stream")
    assert await storage.list("a/") == [
        StoredObject("a/a.m3u8", 3, "STANDARD"),
        StoredObject("a/b/10.ts", 2, "STANDARD"),
        StoredObject("a/b/2.ts", 1, "STANDARD"),
        StoredObject("a/z.ts", 0, "STANDARD"),
    ]
    assert [o.key for o in await storage.list("a")] == ["a/a.m3u8", "a/b/10.ts", "a/b/2.ts", "a/z.ts", "ab/x.ts"]
    assert [o.key for o in await storage.list("a/b/1")] == ["a/b/10.ts"]
    assert [o.key for o in await storage.list("")] == sorted(keys)
    assert await storage.list("nothing/") == []


async def test_delete_and_deleting_a_missing_key(storage: Storage) -> None:
    await storage.put_bytes("d/one", b"1", content_type="text/plain")
    await storage.put_bytes("d/two", b"2", content_type="text/plain")
    await storage.delete("d/one")
    await storage.delete("d/one")
    await storage.delete("never/there")
    assert [o.key for o in await storage.list("d/")] == ["d/two"]
    with pytest.raises(ObjectNotFound):
        await storage.stat("d/one")


async def test_delete_prefix_counts_what_it_deleted(storage: Storage) -> None:
    for key in ("p/1", "p/2", "p/sub/3", "p2/keep", "q/keep"):
        await storage.put_bytes(key, b"x", content_type="text/plain")
    assert await storage.delete_prefix("p/") == 3
    assert await storage.list("p/") == []
    assert [o.key for o in await storage.list("")] == ["p2/keep", "q/keep"]
    assert await storage.delete_prefix("p/") == 0
    for bad in ("p", "", "/p/", "../"):
        with pytest.raises(InvalidKey):
            await storage.delete_prefix(bad)


async def test_missing_objects(storage: Storage) -> None:
    with pytest.raises(ObjectNotFound):
        await storage.read("missing/key")
    with pytest.raises(ObjectNotFound):
        await storage.read("missing/key", 5, 10)
    with pytest.raises(ObjectNotFound):
        await storage.read("missing/key", 0, 0)
    with pytest.raises(ObjectNotFound):
        await storage.stat("missing/key")
    assert issubclass(ObjectNotFound, StorageError)


BAD_KEYS = ["../x", "a/../b", "a/./b", "/abs", "a//b", "a/", "a\\b", "a\x00b", "a\nb", "", "k" * 600, "é" * 257]


@pytest.mark.parametrize("key", BAD_KEYS, ids=lambda key: repr(key)[:20])
async def test_invalid_keys_are_refused(storage: Storage, tmp_path: Path, key: str) -> None:
    source = _source(tmp_path, b"data")
    with pytest.raises(InvalidKey):
        await storage.put_bytes(key, b"data", content_type="text/plain")
    with pytest.raises(InvalidKey):
        await storage.put_file(key, source, content_type="text/plain", move=True)
    assert source.exists()
    with pytest.raises(InvalidKey):
        await storage.read(key)
    with pytest.raises(InvalidKey):
        await storage.stat(key)
    with pytest.raises(InvalidKey):
        await storage.delete(key)
    with pytest.raises(InvalidKey):
        await storage.restore(key)
    with pytest.raises(InvalidKey):
        storage.local_path(key)
    with pytest.raises(InvalidKey):
        storage.playback_url(key)
    if key not in ("", "a/"):  # prefixes may end with '/', and '' lists everything
        with pytest.raises(InvalidKey):
            await storage.list(key)
    assert await storage.list("") == []


async def test_a_non_ascii_key_round_trips(storage: Storage) -> None:
    key = "archives/café/видео 1 ✓.ts"
    await storage.put_bytes(key, DATA, content_type="video/mp2t")
    assert await storage.list("archives/café/") == [StoredObject(key, len(DATA), "STANDARD")]
    assert await storage.read(key, 3, 4) == DATA[3:7]
    assert (await storage.stat(key)).size == len(DATA)
    await storage.delete(key)
    assert await storage.list("archives/") == []


async def test_an_empty_file_stores_size_zero(storage: Storage, tmp_path: Path) -> None:
    source = _source(tmp_path, b"")
    assert await storage.put_file("e/empty", source, content_type="application/octet-stream") == 0
    assert await storage.stat("e/empty") == StoredObject("e/empty", 0, "STANDARD")
    assert await storage.read("e/empty") == b""
    assert await storage.read("e/empty", 0, 10) == b""
    assert await storage.put_bytes("e/also-empty", b"", content_type="text/plain") == 0
    assert [o.size for o in await storage.list("e/")] == [0, 0]
