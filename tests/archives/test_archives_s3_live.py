"""Archives on S3 through a real server: ffmpeg publishes over RTMP to ``livestream serve`` (storage on moto's S3
server), the creator ends the stream, the job stores the VOD in the bucket; it is served through presigned URLs,
ffmpeg plays it over HTTP, and once its objects are moved to GLACIER it answers 409 ARCHIVE_COLD."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.live_server import LiveServer, free_port, start_server
from tests.support.published_archive import publish_and_archive
from tests.support.rtmp_clients import FFMPEG
from tests.support.s3_server import ACCESS_KEY, REGION, SECRET_KEY, direct_client, make_bucket

PUBLISH_SECONDS = 6
# What the job stores for a one-rendition ladder (a 360p source) with the MP4 download on.
STORED_NAMES = ["archive.mp4", "master.m3u8", "poster.jpg", "v0.m3u8", "v0.ts"]
# Variables of boto3's credential chain that must not reach the server from the developer's shell.
AWS_LEAKS = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_PROFILE")


@dataclass
class StoredArchive:
    server: LiveServer
    workdir: Path
    settings: dict[str, str]
    endpoint: str
    bucket: str
    stream_id: str
    archive_id: str

    @property
    def prefix(self) -> str:
        return f"archives/{self.archive_id}/"

    @property
    def vod(self) -> str:
        return f"{self.server.base_url}/vod/{self.archive_id}"

    def objects(self) -> list[dict[str, Any]]:
        client = direct_client(self.endpoint)
        try:
            listed = client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix)
        finally:
            client.close()
        contents: list[dict[str, Any]] = listed.get("Contents", [])
        return contents

    def restart(self) -> None:
        """The same server (its database, media and settings) started again: nothing of it kept in memory."""
        self.server.stop()
        self.server = serve(self.workdir, self.settings)


def serve(workdir: Path, settings: dict[str, str]) -> LiveServer:
    """``livestream serve`` with ``settings``, and boto3 finding the test credentials and nothing of the shell's."""
    with pytest.MonkeyPatch.context() as env:
        for name in AWS_LEAKS:
            env.delenv(name, raising=False)
        return start_server(
            workdir,
            **settings,
            LS_RTMP_PORT=str(free_port()),
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_DEFAULT_REGION=REGION,
            AWS_CONFIG_FILE=str(workdir / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(workdir / "no-aws-credentials"),
            AWS_EC2_METADATA_DISABLED="true",
        )


@pytest.fixture(scope="module")
def stored(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoredArchive]:
    """A stream published for real and ended; its archive is ready in a fresh bucket."""
    workdir = tmp_path_factory.mktemp("s3-live")
    settings = {
        "LS_RTMP_ENABLED": "true",
        "LS_RECONNECT_WINDOW_SECONDS": "5",
        "LS_ARCHIVE_MP4": "true",
        "LS_STORAGE": "s3",
        "LS_S3_BUCKET": make_bucket(s3_endpoint),
        "LS_S3_ENDPOINT_URL": s3_endpoint,
        "LS_S3_REGION": REGION,
    }
    server = serve(workdir, settings)
    archive: StoredArchive | None = None
    try:
        published = publish_and_archive(
            server,
            workdir,
            username="s3_caster",
            rtmp_port=int(server.env["LS_RTMP_PORT"]),
            seconds=PUBLISH_SECONDS,
            size="640x360",
        )
        archive = StoredArchive(
            server=server,
            workdir=workdir,
            settings=settings,
            endpoint=s3_endpoint,
            bucket=settings["LS_S3_BUCKET"],
            stream_id=published.stream_id,
            archive_id=published.link["archive_id"],
        )
        yield archive
    finally:
        (archive.server if archive is not None else server).stop()


def move_to_glacier(stored: StoredArchive) -> None:
    """The bucket's lifecycle rule, by hand: every object of the archive moves to GLACIER (once)."""
    client = direct_client(stored.endpoint)
    try:
        for obj in stored.objects():
            if obj.get("StorageClass") == "GLACIER":
                continue
            client.copy_object(
                Bucket=stored.bucket,
                Key=obj["Key"],
                CopySource={"Bucket": stored.bucket, "Key": obj["Key"]},
                StorageClass="GLACIER",
                MetadataDirective="COPY",
            )
    finally:
        client.close()
    assert {obj.get("StorageClass") for obj in stored.objects()} == {"GLACIER"}


def assert_cold(response: httpx.Response) -> None:
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "ARCHIVE_COLD", body
    assert "livestream storage restore archives/" in body["error"], body


def decoded_seconds(url: str) -> float:
    """ffmpeg reads every video packet of the playlist over HTTP; how long that lasted, in seconds."""
    result = subprocess.run(
        [
            *(FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-stats"),
            *("-protocol_whitelist", "file,http,tcp", "-i", url),
            *("-map", "0:v:0", "-f", "null", "-"),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    errors = [line for line in re.split(r"[\r\n]", result.stderr) if line.strip() and "time=" not in line]
    assert errors == [], errors
    times = re.findall(r"time=(\d+):(\d+):([\d.]+)", result.stderr)
    assert times, result.stderr
    h, m, s = times[-1]
    return int(h) * 3600 + int(m) * 60 + float(s)


def test_a_stored_archive_is_in_the_bucket_and_plays_through_presigned_urls(stored: StoredArchive) -> None:
    archive = httpx.get(f"{stored.server.base_url}/api/archives/{stored.archive_id}", timeout=10).json()
    assert archive["status"] == "ready", archive
    assert archive["storage_class"] == "STANDARD"
    assert abs(archive["duration"] - PUBLISH_SECONDS) <= 1, archive

    # The objects are in the bucket under the archive's prefix, and the archive's size is theirs.
    objects = stored.objects()
    assert sorted(obj["Key"].removeprefix(stored.prefix) for obj in objects) == STORED_NAMES
    assert archive["file_size"] == sum(obj["Size"] for obj in objects)
    assert all(obj.get("StorageClass", "STANDARD") == "STANDARD" for obj in objects), objects

    with httpx.Client(timeout=10, follow_redirects=False) as http:
        # The rendition's playlist names the media file by presigned URLs on the S3 endpoint, one per file.
        variant = http.get(f"{stored.vod}/v0.m3u8")
        assert variant.status_code == 200, variant.text
        assert variant.text.rstrip().endswith("#EXT-X-ENDLIST")
        assert "#EXT-X-BYTERANGE:" in variant.text
        uris = [line for line in variant.text.splitlines() if line and not line.startswith("#")]
        assert uris
        assert len(set(uris)) == 1, uris
        segment_url = uris[0]
        assert segment_url.startswith(f"{stored.endpoint}/{stored.bucket}/{stored.prefix}v0.ts?"), segment_url
        assert "X-Amz-Signature=" in segment_url
        assert "X-Amz-Expires=" in segment_url
        # A byte range of it, read through the presigned URL, is the object's.
        first_range = re.search(r"#EXT-X-BYTERANGE:(\d+)@(\d+)", variant.text)
        assert first_range is not None, variant.text
        length, offset = int(first_range[1]), int(first_range[2])
        part = http.get(segment_url, headers={"Range": f"bytes={offset}-{offset + length - 1}"})
        assert part.status_code == 206, part.text
        assert len(part.content) == length
        assert part.content[0] == 0x47  # an MPEG-TS sync byte: the range starts on a packet

        # ffmpeg plays the whole VOD over HTTP: the app's playlists, the bucket's bytes.
        assert abs(decoded_seconds(f"{stored.vod}/master.m3u8") - PUBLISH_SECONDS) <= 1

        # The poster and the MP4 are redirects to presigned URLs; the poster is a JPEG.
        poster = http.get(f"{stored.vod}/poster.jpg")
        assert poster.status_code == 302, poster.text
        location = poster.headers["location"]
        assert location.startswith(f"{stored.endpoint}/{stored.bucket}/{stored.prefix}poster.jpg?"), location
        assert "X-Amz-Signature=" in location
        image = http.get(location)
        assert image.status_code == 200, image.text
        assert image.content[:3] == b"\xff\xd8\xff"
        assert image.headers["content-type"] == "image/jpeg"
        mp4 = http.get(f"{stored.vod}/archive.mp4")
        assert mp4.status_code == 302, mp4.text
        assert mp4.headers["location"].startswith(f"{stored.endpoint}/{stored.bucket}/{stored.prefix}archive.mp4?")

    # Once stored, the sources are gone from the ingest disk, and nothing was kept locally.
    media = stored.workdir / "media"
    assert not (media / "live" / stored.stream_id).exists()
    assert not (media / "recordings" / stored.stream_id).exists()
    assert not (media / "archives" / stored.archive_id).exists()


def test_an_archive_played_then_moved_to_glacier_answers_409_archive_cold(stored: StoredArchive) -> None:
    with httpx.Client(timeout=10, follow_redirects=False) as http:
        # Someone plays it (as the previous test did): this server reads its playlists.
        if not any(obj.get("StorageClass") == "GLACIER" for obj in stored.objects()):
            for name in ("master.m3u8", "v0.m3u8"):
                assert http.get(f"{stored.vod}/{name}").status_code == 200
        move_to_glacier(stored)
        assert_cold(http.get(f"{stored.vod}/master.m3u8"))


def test_an_archive_in_glacier_answers_409_archive_cold_and_the_row_learns_it(stored: StoredArchive) -> None:
    move_to_glacier(stored)
    # A server that has not read the archive's playlists since it started.
    stored.restart()
    with httpx.Client(timeout=10, follow_redirects=False) as http:
        assert_cold(http.get(f"{stored.vod}/master.m3u8"))
        # The row has learnt it: the API shows the storage class, and every file of the archive answers 409 too.
        archive = http.get(f"{stored.server.base_url}/api/archives/{stored.archive_id}").json()
        assert archive["storage_class"] == "GLACIER", archive
        for name in ("v0.m3u8", "v0.ts", "poster.jpg", "archive.mp4"):
            assert_cold(http.get(f"{stored.vod}/{name}"))
