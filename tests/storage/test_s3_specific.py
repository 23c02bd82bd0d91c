"""What only the S3 backend does: multipart uploads, presigned and CDN URLs, cold objects, lifecycle rules, and
failures that must reach the app as StorageError."""

from __future__ import annotations

import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.config import Config

from livestream.storage import ObjectCold, ObjectNotFound, StorageError, StoredObject
from livestream.storage import s3 as s3_module
from livestream.storage.s3 import LIFECYCLE_RULE_ID, S3Storage
from tests.support.s3_server import (
    SECRET_KEY,
    direct_client,
    make_bucket,
    start_s3_server,
    storage_settings,
    use_test_credentials,
)

MiB = 1024 * 1024
MakeS3 = Callable[..., S3Storage]


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    use_test_credentials(monkeypatch, tmp_path)
    return make_bucket(s3_endpoint)


@pytest.fixture
def direct(s3_endpoint: str) -> Iterator[Any]:
    """boto3 with explicit test credentials, to arrange and inspect what the storage cannot do itself."""
    client = direct_client(s3_endpoint)
    yield client
    client.close()


@pytest.fixture
async def make_s3(s3_endpoint: str, bucket: str, tmp_path: Path) -> AsyncIterator[MakeS3]:
    made: list[S3Storage] = []

    def make(*, client_config: Any = None, **overrides: object) -> S3Storage:
        values: dict[str, object] = {"storage": "s3", "s3_bucket": bucket, "s3_endpoint_url": s3_endpoint}
        values.update(overrides)
        storage = S3Storage(storage_settings(tmp_path, **values), client_config=client_config)
        made.append(storage)
        return storage

    yield make
    for storage in made:
        await storage.close()


async def test_a_file_above_the_threshold_uploads_in_parts(
    make_s3: MakeS3, direct: Any, bucket: str, tmp_path: Path
) -> None:
    storage = make_s3(s3_multipart_threshold_bytes=5 * MiB)
    data = os.urandom(20 * MiB)
    big = tmp_path / "big.ts"
    big.write_bytes(data)
    small = tmp_path / "small.ts"
    small.write_bytes(data[: 1 * MiB])

    assert await storage.put_file("archives/a/big.ts", big, content_type="video/mp2t") == 20 * MiB
    assert await storage.put_file("archives/a/small.ts", small, content_type="video/mp2t") == 1 * MiB

    # A multipart object's ETag is "<md5 of the part md5s>-<number of parts>": 20 MiB in 5 MiB parts is 4.
    head = direct.head_object(Bucket=bucket, Key="archives/a/big.ts")
    assert re.fullmatch(r'"[0-9a-f]{32}-4"', head["ETag"]), head["ETag"]
    assert head["ContentType"] == "video/mp2t"
    assert re.fullmatch(r'"[0-9a-f]{32}"', direct.head_object(Bucket=bucket, Key="archives/a/small.ts")["ETag"])
    assert (await storage.stat("archives/a/big.ts")).size == 20 * MiB
    assert await storage.read("archives/a/big.ts", 5 * MiB - 10, 20) == data[5 * MiB - 10 : 5 * MiB + 10]
    assert await storage.read("archives/a/big.ts") == data


async def test_presigned_url_serves_the_bytes_and_honours_range(make_s3: MakeS3) -> None:
    storage = make_s3(s3_presign_seconds=600)
    await storage.put_bytes("archives/a/v0.ts", b"0123456789", content_type="video/mp2t")
    url = storage.playback_url("archives/a/v0.ts")
    assert url is not None
    assert "X-Amz-Expires=600" in url
    assert "X-Amz-Signature=" in url
    assert SECRET_KEY not in url
    async with httpx.AsyncClient() as http:
        whole = await http.get(url)
        part = await http.get(url, headers={"Range": "bytes=2-5"})
    assert (whole.status_code, whole.content) == (200, b"0123456789")
    assert whole.headers["content-type"] == "video/mp2t"
    assert (part.status_code, part.content) == (206, b"2345")


async def test_cdn_base_url_replaces_presigning(make_s3: MakeS3) -> None:
    storage = make_s3(cdn_base_url="https://cdn.example.com/media/")
    assert storage.playback_url("archives/a/v0.ts") == "https://cdn.example.com/media/archives/a/v0.ts"
    assert storage.playback_url("archives/é #1.ts") == "https://cdn.example.com/media/archives/%C3%A9%20%231.ts"


async def test_a_cold_object_must_be_restored_before_it_is_read(make_s3: MakeS3, direct: Any, bucket: str) -> None:
    storage = make_s3()
    direct.put_object(Bucket=bucket, Key="archives/old/v0.ts", Body=b"frozen", StorageClass="GLACIER")
    await storage.put_bytes("archives/old/index.m3u8", b"#EXTM3U", content_type="application/vnd.apple.mpegurl")

    assert await storage.stat("archives/old/v0.ts") == StoredObject("archives/old/v0.ts", 6, "GLACIER")
    assert [o.storage_class for o in await storage.list("archives/old/")] == ["STANDARD", "GLACIER"]
    with pytest.raises(ObjectCold):
        await storage.read("archives/old/v0.ts")
    with pytest.raises(ObjectCold):
        await storage.read("archives/old/v0.ts", 1, 2)

    assert await storage.restore("archives/old/v0.ts", days=2) is True
    assert await storage.restore("archives/old/index.m3u8") is False
    with pytest.raises(ObjectNotFound):
        await storage.restore("archives/old/missing.ts")
    # The test server finishes restores at once; S3 takes hours, and reads raise ObjectCold until then.
    assert await storage.read("archives/old/v0.ts") == b"frozen"
    assert await storage.restore("archives/old/v0.ts") is True  # restored already: the copy's expiry moves


async def test_apply_lifecycle_sets_our_rule_and_keeps_the_others(make_s3: MakeS3, direct: Any, bucket: str) -> None:
    storage = make_s3()
    await storage.apply_lifecycle("archives/", 90)  # no configuration on the bucket yet
    other = {"ID": "expire-tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 1}}
    current = direct.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    direct.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [*current, other]})

    await storage.apply_lifecycle("archives/", 30)

    rules = {rule["ID"]: rule for rule in direct.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert set(rules) == {LIFECYCLE_RULE_ID, "expire-tmp"}
    ours = rules[LIFECYCLE_RULE_ID]
    assert ours["Filter"] == {"Prefix": "archives/"}
    assert ours["Status"] == "Enabled"
    assert [(t["Days"], t["StorageClass"]) for t in ours["Transitions"]] == [(30, "GLACIER")]
    assert rules["expire-tmp"]["Expiration"]["Days"] == 1


async def test_list_and_delete_prefix_page_and_batch(make_s3: MakeS3, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small pages and batches so seven objects exercise what a 1,000-key page and batch do.
    monkeypatch.setattr(s3_module, "LIST_PAGE_SIZE", 2)
    monkeypatch.setattr(s3_module, "DELETE_BATCH", 3)
    storage = make_s3()
    keys = [f"archives/x/{i:02d}.ts" for i in range(7)]
    for key in keys:
        await storage.put_bytes(key, b"x", content_type="video/mp2t")
    await storage.put_bytes("archives/y/keep.ts", b"x", content_type="video/mp2t")
    assert [o.key for o in await storage.list("archives/x/")] == keys
    assert await storage.delete_prefix("archives/x/") == 7
    assert [o.key for o in await storage.list("archives/")] == ["archives/y/keep.ts"]


async def test_an_unreachable_server_is_a_storage_error_quickly(
    make_s3: MakeS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_s3_server()
    make_bucket(server.endpoint, "gone-bucket")
    server.stop()
    storage = make_s3(
        s3_bucket="gone-bucket",
        s3_endpoint_url=server.endpoint,
        client_config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=1),
    )
    source = tmp_path / "f.ts"
    source.write_bytes(b"data")
    started = time.monotonic()
    attempts: list[Callable[[], Awaitable[object]]] = [
        lambda: storage.put_bytes("k/v", b"x", content_type="text/plain"),
        lambda: storage.put_file("k/v", source, content_type="text/plain", move=True),
        lambda: storage.read("k/v"),
        lambda: storage.stat("k/v"),
        lambda: storage.list("k/"),
        lambda: storage.delete("k/v"),
        lambda: storage.delete_prefix("k/"),
        lambda: storage.restore("k/v"),
        lambda: storage.apply_lifecycle("archives/", 90),
    ]
    for attempt in attempts:
        with pytest.raises(StorageError) as caught:
            await attempt()
        assert type(caught.value) is StorageError, caught.value
        assert "EndpointConnectionError" in str(caught.value)
        assert SECRET_KEY not in str(caught.value)
    assert time.monotonic() - started < 5
    assert source.exists()  # a failed move keeps the source
    # Signing needs no server.
    assert (storage.playback_url("k/v") or "").startswith(f"{server.endpoint}/gone-bucket/k/v?")


async def test_a_missing_bucket_is_a_storage_error_not_a_missing_object(make_s3: MakeS3) -> None:
    storage = make_s3(s3_bucket="no-such-bucket-here")
    with pytest.raises(StorageError, match="NoSuchBucket") as caught:
        await storage.read("k/v")
    assert not isinstance(caught.value, ObjectNotFound)


async def test_credentials_come_from_the_standard_chain(make_s3: MakeS3, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    storage = make_s3()
    with pytest.raises(StorageError, match="NoCredentialsError"):
        await storage.stat("k/v")


def test_s3_needs_a_bucket(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="LS_S3_BUCKET"):
        storage_settings(tmp_path, storage="s3")
