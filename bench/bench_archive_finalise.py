"""Finalising an archive: the whole ``ArchiveFinaliser.finalise`` run (``ensure()`` then ``finalise()``) for a
10-minute recording with the 720p ladder (720p/480p/360p at 3000/1200/700 kbit/s video + AAC), on local storage
and on S3 (moto's server on 127.0.0.1), as a fraction of the recording's duration. Target: at most 0.05 on both
(30 s for 600 s), with ``LS_ARCHIVE_MP4`` off (the default); the MP4 variant is measured too, as information.

Input: a live directory laid out exactly as our transcoder leaves it (``live/<stream_id>/master.m3u8``,
``v{i}/index.m3u8``, ``v{i}/p001_{n}.ts`` of 1 s, ``thumbnail.jpg``, the ``.finished`` marker) and the recording
``recordings/<stream_id>/part-001.ts``. Made once and cached under ``bench/results/archive-input/`` (git-ignored),
keyed by its parameters: the synthetic source is encoded as a publisher would send it (x264 3000k, AAC 128k),
60 s of it goes through the transcoder's own command line (``build_command``, preset ultrafast so it is quick;
the bitrate, maxrate and bufsize of each rung are the ladder's, so the sizes are a real ladder's), and that minute
is replicated to the full length by remuxing (``-c copy -output_ts_offset``) into consecutive segment numbers,
so timestamps keep increasing as in one long stream.

Each run gets a fresh copy of the input (outside the timed part, followed by ``sync``: finalise deletes its
sources) in a work directory under ``bench/results/`` (a real disk, the filesystem the storage root is on), a
fresh ended stream row in a throwaway SQLite database migrated with ``livestream.migrate.upgrade``, and is timed
from ``ensure()`` to the return of ``finalise()``.

Baselines, same run, alternated with ours: local, ``cat`` of every segment file into one file per rendition (the
bytes the VOD is made of, copied once); S3, boto3's ``upload_file`` of those three files with the TransferConfig
``S3Storage.put_file`` uses. The ratio ours / baseline is information; the target is the fraction.

Where the time goes, per run: the finaliser's steps are timed by wrapping the functions it calls (``build_vod``
and its ``renditions``/``measure``, ``make_poster``, ``make_mp4``, the storage's ``put_file``/``list``,
``shutil.rmtree``) in this process for the benchmark's duration; the archive code itself is unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from bench.harness import (
    RESULTS_DIR,
    ROOT,
    BenchError,
    BenchResult,
    Options,
    format_table,
    machine_info,
    machine_line,
    now_utc,
    package_versions,
    progress,
)
from bench.media_support import (
    FPS,
    PUBLISH_VIDEO_KBPS,
    Verdicts,
    direct_from_file,
    encode_flv,
    ffmpeg_exe,
    ffmpeg_version,
    prepare_out_dir,
    run_async,
    run_bounded,
    source_state,
)

NAME = "archive_finalise"
DESCRIPTION = (
    "ArchiveFinaliser.finalise of a 10-minute 3-rendition recording, local and S3 (moto), as a fraction of its "
    "duration, vs cat / boto3 upload_file of the same bytes"
)
TARGET_FRACTION = 0.05
FULL_S = 600
QUICK_S = 120
CHUNK_S = 60  # encoded once, then replicated
MAX_HEIGHT = 720  # the 720p ladder: 720p/480p/360p
INPUT_VERSION = 1  # bump when the way the input is made changes
INPUT_DIR = RESULTS_DIR / "archive-input"
INPUT_STREAM = uuid.UUID("00000000-0000-4000-8000-000000000008")  # the cached copy's folder name
_SEGMENT = re.compile(r"^p(\d{3})_(\d+)\.ts$")
KINDS = ("baseline", "ours", "ours+mp4")


# --- the input ---------------------------------------------------------------------------------------------------


def _ladder() -> tuple[Any, list[Any]]:
    from livestream.media.ladder import SourceInfo, build_ladder

    source = SourceInfo(1280, 720, FPS, PUBLISH_VIDEO_KBPS, True)
    return source, build_ladder(source, "abr", max_height=MAX_HEIGHT)


def _input_key(seconds: int | None) -> str:
    """The cache key of the input (``None``: of the encoded chunk every length is replicated from)."""
    _, ladder = _ladder()
    params = {
        "version": INPUT_VERSION,
        "seconds": seconds,
        "chunk_s": CHUNK_S,
        "source_kbps": PUBLISH_VIDEO_KBPS,
        "ladder": [
            [r.width, r.height, r.video_bitrate_kbps, r.maxrate, r.bufsize, r.audio_bitrate_kbps] for r in ladder
        ],
        "ffmpeg": ffmpeg_version(),
    }
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    return f"chunk-{digest}" if seconds is None else f"{seconds}s-{digest}"


def _segments(folder: Path) -> list[Path]:
    found = [(m, p) for p in folder.iterdir() if (m := _SEGMENT.match(p.name))]
    return [p for m, p in sorted(found, key=lambda x: (int(x[0].group(1)), int(x[0].group(2))))]


def _ffmpeg(*args: str, timeout_s: float = 300) -> None:
    run_bounded([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], timeout_s=timeout_s)


def _chunk() -> tuple[Path, dict[str, Any]]:
    """The encoded chunk (cached, made when missing): ``live/`` as the transcoder wrote it, ``v{i}.ts`` (its first
    ``CHUNK_S`` segments joined), ``recording.ts`` and ``chunk.json`` (written last)."""
    target = INPUT_DIR / _input_key(None)
    manifest = target / "chunk.json"
    if manifest.is_file():
        return target, json.loads(manifest.read_text())
    progress(f"  encoding {CHUNK_S} s through the transcoder's command (cached under {target.relative_to(ROOT)})")
    with tempfile.TemporaryDirectory(prefix="making-", dir=INPUT_DIR) as tmp:
        work = Path(tmp) / "chunk"
        work.mkdir()
        made = _make_chunk(work)
        (work / "chunk.json").write_text(json.dumps(made, indent=2) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        work.rename(target)
    return target, made


def _make_chunk(chunk: Path) -> dict[str, Any]:
    """``CHUNK_S`` seconds through the transcoder's own command: ``chunk/live`` and ``chunk/recording.ts``."""
    from livestream.media import mpegts

    source, ladder = _ladder()
    t0 = time.monotonic()
    flv = encode_flv(chunk / "source.flv", seconds=CHUNK_S, video_kbps=PUBLISH_VIDEO_KBPS, timeout_s=600)
    live = chunk / "live"
    prepare_out_dir(live, len(ladder))
    command = direct_from_file(source, ladder, flv, live)
    command[command.index("-preset") + 1] = "ultrafast"  # the rungs' bitrates stay: sizes are a real ladder's
    run_bounded(command, timeout_s=900)
    (live / "recording.ts").rename(chunk / "recording.ts")
    flv.unlink()
    # The chunk is its first CHUNK_S one-second segments (the last one ffmpeg writes may be a frame long).
    durations = []
    for i in range(len(ladder)):
        segments = _segments(live / f"v{i}")
        if len(segments) <= CHUNK_S:
            raise BenchError(f"the transcoder wrote {len(segments)} segments for v{i}, expected more than {CHUNK_S}")
        start, end = mpegts.first_pts(segments[0]), mpegts.first_pts(segments[CHUNK_S])
        if start is None or end is None:
            raise BenchError(f"no timestamp in the segments of v{i}")
        durations.append(mpegts.seconds(mpegts.ticks_between(start, end)))
        with (chunk / f"v{i}.ts").open("wb") as out:
            for segment in segments[:CHUNK_S]:
                with segment.open("rb") as src:
                    shutil.copyfileobj(src, out)
    if max(durations) - min(durations) > 0.001:
        raise BenchError(f"the renditions' chunks differ in length: {durations}")
    return {"chunk_seconds": durations[0], "transcode_seconds": round(time.monotonic() - t0, 1)}


def build_input(seconds: int) -> tuple[Path, dict[str, Any]]:
    """The cached input for a ``seconds``-long recording (made when missing): ``<dir>/live/<id>``,
    ``<dir>/recordings/<id>/part-001.ts`` and ``<dir>/manifest.json`` (written last)."""
    if seconds % CHUNK_S:
        raise ValueError(f"seconds must be a multiple of {CHUNK_S}")
    target = INPUT_DIR / _input_key(seconds)
    manifest_path = target / "manifest.json"
    if manifest_path.is_file():
        return target, json.loads(manifest_path.read_text())
    INPUT_DIR.mkdir(parents=True, exist_ok=True)
    progress(f"  making the input ({seconds} s, cached under {target.relative_to(ROOT)})")
    t0 = time.monotonic()
    chunk, made = _chunk()
    with tempfile.TemporaryDirectory(prefix="making-", dir=INPUT_DIR) as tmp:
        work = Path(tmp)
        step = made["chunk_seconds"]
        copies = seconds // CHUNK_S
        _, ladder = _ladder()
        out = work / "out"
        live = out / "live" / str(INPUT_STREAM)
        recordings = out / "recordings" / str(INPUT_STREAM)
        prepare_out_dir(live, len(ladder))
        recordings.mkdir(parents=True)
        for i in range(len(ladder)):
            playlist = work / f"v{i}.m3u8"
            for k in range(copies):
                _ffmpeg(
                    *("-i", str(chunk / f"v{i}.ts"), "-map", "0", "-c", "copy"),
                    *("-output_ts_offset", f"{k * step:.6f}"),
                    *("-f", "hls", "-hls_time", "1", "-hls_list_size", "6"),
                    *("-hls_flags", "independent_segments+program_date_time", "-hls_segment_type", "mpegts"),
                    *("-start_number", str(len(_segments(live / f"v{i}")))),
                    *("-hls_segment_filename", str(live / f"v{i}" / "p001_%d.ts"), str(playlist)),
                )
            # ffmpeg's last playlist: the final few segments and ENDLIST, as the transcoder leaves it.
            shutil.copyfile(playlist, live / f"v{i}" / "index.m3u8")
        with (recordings / "part-001.ts").open("wb") as part:
            for k in range(copies):
                piece = work / "piece.ts"
                _ffmpeg(
                    *("-i", str(chunk / "recording.ts"), "-map", "0", "-c", "copy"),
                    *("-output_ts_offset", f"{k * step:.6f}", "-f", "mpegts", str(piece)),
                )
                with piece.open("rb") as src:
                    shutil.copyfileobj(src, part)
                piece.unlink()
        shutil.copyfile(chunk / "live" / "master.m3u8", live / "master.m3u8")
        shutil.copyfile(chunk / "live" / "thumbnail.jpg", live / "thumbnail.jpg")
        (live / ".finished").touch()
        renditions = []
        for i, rung in enumerate(ladder):
            segments = _segments(live / f"v{i}")
            size = sum(p.stat().st_size for p in segments)
            renditions.append(
                {
                    "name": rung.name,
                    "size": f"{rung.width}x{rung.height}",
                    "video_kbps": rung.video_bitrate_kbps,
                    "audio_kbps": rung.audio_bitrate_kbps,
                    "segments": len(segments),
                    "bytes": size,
                    "kbps_measured": round(size * 8 / seconds / 1000),
                }
            )
        recording = (recordings / "part-001.ts").stat().st_size
        manifest = {
            "key": target.name,
            "seconds": seconds,
            "chunk": made,
            "renditions": renditions,
            "ladder_bytes": sum(r["bytes"] for r in renditions),
            "recording_bytes": recording,
            "recording_kbps_measured": round(recording * 8 / seconds / 1000),
            "made_in_s": round(time.monotonic() - t0, 1),
        }
        manifest["total_bytes"] = manifest["ladder_bytes"] + recording
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        out.rename(target)
    return target, manifest


def copy_input(source: Path, media_dir: Path, stream_id: uuid.UUID) -> None:
    """A fresh copy of the input for one run (real bytes, on the work directory's filesystem), then ``sync`` so
    the copy's writeback does not land in the timed part."""
    shutil.copytree(source / "live" / str(INPUT_STREAM), media_dir / "live" / str(stream_id))
    shutil.copytree(source / "recordings" / str(INPUT_STREAM), media_dir / "recordings" / str(stream_id))
    os.sync()


# --- timing the finaliser's steps ----------------------------------------------------------------------------


class StepClock:
    """Seconds per step of one run, from wrappers around what the finaliser calls."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.steps = {}

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.steps[name] = self.steps.get(name, 0.0) + seconds

    def sync(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - start)

        return timed

    def coro(self, name: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - start)

        return timed


class _TimedShutil:
    """``shutil`` as the finaliser module sees it, with ``rmtree`` timed."""

    def __init__(self, clock: StepClock) -> None:
        self.rmtree = clock.sync("delete sources", shutil.rmtree)

    def __getattr__(self, name: str) -> Any:
        return getattr(shutil, name)


class _TimedStorage:
    """The storage with ``put_file`` and ``list`` timed; everything else passed through."""

    def __init__(self, inner: Any, clock: StepClock) -> None:
        self._inner = inner
        self.put_file = clock.coro("store", inner.put_file)
        self.list = clock.coro("list", inner.list)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@contextlib.contextmanager
def instrumented(clock: StepClock) -> Iterator[None]:
    from livestream.archives import finalise, media, vod

    patches: list[tuple[Any, str, Any]] = [
        (finalise, "build_vod", clock.sync("build_vod", vod.build_vod)),
        (finalise, "make_poster", clock.coro("poster", media.make_poster)),
        (finalise, "make_mp4", clock.coro("mp4", media.make_mp4)),
        (finalise, "shutil", _TimedShutil(clock)),
        (vod, "renditions", clock.sync("scan", vod.renditions)),
        (vod, "measure", clock.sync("measure", vod.measure)),
    ]
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    try:
        for module, name, value in patches:
            setattr(module, name, value)
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def step_breakdown(steps: dict[str, float], total: float) -> dict[str, float]:
    """The run's time by step; ``join`` is build_vod without its scan and measure, ``rest`` what no wrapper
    saw (ensure, the claim, progress and the final row update)."""
    build = steps.get("build_vod", 0.0)
    scan, measure = steps.get("scan", 0.0), steps.get("measure", 0.0)
    out = {
        "scan": scan,
        "measure (first PTS of every segment)": measure,
        "join (copy segments)": build - scan - measure,
        "poster": steps.get("poster", 0.0),
        "mp4": steps.get("mp4", 0.0),
        "store": steps.get("store", 0.0),
        "list": steps.get("list", 0.0),
        "delete sources": steps.get("delete sources", 0.0),
    }
    out["rest (db, progress)"] = total - sum(out.values())
    return {k: round(v, 3) for k, v in out.items()}


# --- one storage ---------------------------------------------------------------------------------------------


@dataclass
class Run:
    storage: str
    kind: str
    round_no: int
    seconds: float
    bytes: int
    steps: dict[str, float] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "storage": self.storage,
            "kind": self.kind,
            "round": self.round_no,
            "seconds": round(self.seconds, 3),
            "bytes": self.bytes,
            "steps": self.steps,
            **self.detail,
        }


@dataclass
class Context:
    db: Any
    user_id: uuid.UUID
    input_dir: Path
    manifest: dict[str, Any]
    work: Path
    ffmpeg: str
    clock: StepClock


async def _make_user(db: Any) -> uuid.UUID:
    from livestream.users.models import User

    user_id = uuid.uuid4()
    async with db.unit_of_work() as session:
        name = f"bench_archive_{secrets.token_hex(3)}"
        session.add(User(user_id=user_id, username=name, email=f"{name}@example.com", password_hash="-"))  # noqa: S106 - no sign-in
    return user_id


async def _ended_stream(ctx: Context, seconds: int) -> uuid.UUID:
    """An ended stream row that received media until now, like the one the "ended" transition leaves."""
    from livestream.db import utcnow
    from livestream.streams.models import Stream

    now = utcnow()
    stream_id = uuid.uuid4()
    async with ctx.db.unit_of_work() as session:
        session.add(
            Stream(
                stream_id=stream_id,
                user_id=ctx.user_id,
                title="Archive benchmark",
                status="ended",
                media_state="ended",
                started_at=now - timedelta(seconds=seconds + 5),
                ended_at=now,
                last_ingest_at=now,
            )
        )
    return stream_id


async def run_ours(ctx: Context, storage: Any, media_dir: Path, *, mp4: bool, label: str, round_no: int) -> Run:
    from livestream.archives.finalise import ArchiveEvent, ArchiveFinaliser, archive_prefix
    from livestream.archives.repository import ArchiveRepository
    from livestream.media import files

    seconds = int(ctx.manifest["seconds"])
    stream_id = await _ended_stream(ctx, seconds)
    await asyncio.to_thread(copy_input, ctx.input_dir, media_dir, stream_id)
    ready_at: list[float] = []

    async def told(event: ArchiveEvent) -> None:
        if event.status == "ready":  # the row says ready (the sources are deleted after this)
            ready_at.append(time.perf_counter())

    finaliser = ArchiveFinaliser(
        ctx.db,
        cast(Any, _TimedStorage(storage, ctx.clock)),
        media_dir=media_dir,
        ffmpeg=ctx.ffmpeg,
        mp4=mp4,
        notify=told,
    )
    ctx.clock.reset()
    start = time.perf_counter()
    archive_id = await finaliser.ensure(stream_id)
    if archive_id is None:
        raise BenchError("ensure() made no archive to process")
    await finaliser.finalise(str(archive_id))
    elapsed = time.perf_counter() - start
    steps = step_breakdown(dict(ctx.clock.steps), elapsed)
    detail: dict[str, Any] = {"ready_s": round(ready_at[0] - start, 3) if ready_at else None}
    async with ctx.db.sessionmaker() as session:
        archive = await ArchiveRepository(session).get(archive_id)
    if archive is None or archive.status != "ready":
        state = None if archive is None else (archive.status, archive.failure_reason)
        raise BenchError(f"{label}: the archive is not ready after finalise: {state}")
    stored = await storage.list(archive_prefix(archive_id))
    names = sorted(obj.key.rsplit("/", 1)[-1] for obj in stored)
    expected = {"master.m3u8", "poster.jpg", "v0.ts", "v1.ts", "v2.ts", "v0.m3u8", "v1.m3u8", "v2.m3u8"}
    if mp4:
        expected.add("archive.mp4")
    if set(names) != expected:
        raise BenchError(f"{label}: stored {names}, expected {sorted(expected)}")
    if abs(archive.duration - seconds) > 2:
        raise BenchError(f"{label}: the archive lasts {archive.duration} s, the recording {seconds} s")
    if files.live_dir(media_dir, stream_id).exists() or files.recordings_dir(media_dir, stream_id).exists():
        raise BenchError(f"{label}: the sources are still there after finalise")
    size = sum(obj.size for obj in stored)
    if storage.name == "local":
        # Information: what making the stored files durable would cost (finalise does not fsync them before it
        # deletes the sources).
        paths = [storage.local_path(obj.key) for obj in stored]
        detail["fsync_stored_s"] = round(await asyncio.to_thread(_fsync_all, paths), 3)
    await storage.delete_prefix(archive_prefix(archive_id))  # outside the timed part: keep the disk and moto small
    detail["archive_duration_s"] = archive.duration
    detail["stored"] = {obj.key.rsplit("/", 1)[-1]: obj.size for obj in stored}
    return Run(storage.name, "ours+mp4" if mp4 else "ours", round_no, elapsed, size, steps, detail)


def _fsync_all(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return time.perf_counter() - start


def cat_renditions(live: Path, out_dir: Path) -> int:
    """The local baseline: every rendition's segments, in order, joined by ``cat`` into ``v{i}.ts``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    for folder in sorted(p for p in live.iterdir() if re.fullmatch(r"v\d+", p.name)):
        target = out_dir / f"{folder.name}.ts"
        with target.open("wb") as out:
            subprocess.run(["cat", *map(str, _segments(folder))], stdout=out, check=True, timeout=300)
        total += target.stat().st_size
    return total


async def run_cat(ctx: Context, media_dir: Path, round_no: int) -> Run:
    stream_id = uuid.uuid4()
    await asyncio.to_thread(copy_input, ctx.input_dir, media_dir, stream_id)
    live = media_dir / "live" / str(stream_id)
    out = media_dir / "work" / f"baseline-{stream_id}"
    start = time.perf_counter()
    size = await asyncio.to_thread(cat_renditions, live, out)
    elapsed = time.perf_counter() - start
    await asyncio.to_thread(shutil.rmtree, out, True)
    await asyncio.to_thread(shutil.rmtree, live, True)
    await asyncio.to_thread(shutil.rmtree, media_dir / "recordings" / str(stream_id), True)
    return Run("local", "baseline", round_no, elapsed, size)


class UploadBaseline:
    """boto3's ``upload_file`` of the joined renditions, with the TransferConfig ``S3Storage.put_file`` makes."""

    def __init__(self, settings: Any, files: list[Path]) -> None:
        import boto3  # type: ignore[import-untyped]
        from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]
        from botocore.config import Config  # type: ignore[import-untyped]

        from livestream.storage.s3 import CLIENT_CONFIG

        self.bucket = settings.s3_bucket
        self.files = files
        config = CLIENT_CONFIG.merge(Config(s3={"addressing_style": "path"}))
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region, config=config
        )
        threshold = settings.s3_multipart_threshold_bytes
        self.transfer = TransferConfig(
            multipart_threshold=threshold,
            multipart_chunksize=threshold,
            max_concurrency=8,
            preferred_transfer_client="classic",
        )
        self.client.list_objects_v2(Bucket=self.bucket, MaxKeys=1)  # the client is made and warm

    def upload(self, prefix: str) -> int:
        total = 0
        for path in self.files:
            self.client.upload_file(
                str(path),
                self.bucket,
                prefix + path.name,
                ExtraArgs={"ContentType": "video/mp2t"},
                Config=self.transfer,
            )
            total += path.stat().st_size
        return total

    def delete(self, prefix: str) -> None:
        listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", [])
        if listed:
            self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": o["Key"]} for o in listed], "Quiet": True}
            )

    def close(self) -> None:
        self.client.close()


async def run_upload(ctx: Context, baseline: UploadBaseline, round_no: int) -> Run:
    prefix = f"baseline/{uuid.uuid4()}/"
    await asyncio.to_thread(os.sync)
    start = time.perf_counter()
    size = await asyncio.to_thread(baseline.upload, prefix)
    elapsed = time.perf_counter() - start
    await asyncio.to_thread(baseline.delete, prefix)
    return Run("s3", "baseline", round_no, elapsed, size)


# --- S3 on loopback ------------------------------------------------------------------------------------------


def _s3_support() -> Any:
    """tests/support/s3_server.py: moto's server on 127.0.0.1 and the storage tests' credentials (by name, so
    type checking the benchmark does not type check the test support code)."""
    return importlib.import_module("tests.support.s3_server")


@contextlib.contextmanager
def aws_test_credentials(workdir: Path) -> Iterator[None]:
    """Test credentials where boto3's standard chain looks first (this process's environment), as the storage
    tests set them; the caller's AWS settings are put back afterwards."""
    s3_server = _s3_support()
    values = {
        "AWS_ACCESS_KEY_ID": s3_server.ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": s3_server.SECRET_KEY,
        "AWS_DEFAULT_REGION": s3_server.REGION,
        "AWS_CONFIG_FILE": str(workdir / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    removed = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")
    saved = {k: os.environ.get(k) for k in (*values, *removed)}
    os.environ.update(values)
    for name in removed:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _settings(media_dir: Path, workdir: Path, **overrides: Any) -> Any:
    from livestream.config import Settings

    saved = {k: v for k, v in os.environ.items() if k.startswith("LS_")}
    for key in saved:  # defaults for everything not set here, whatever the caller's shell says
        del os.environ[key]
    try:
        return Settings(
            env="test", secret_key=secrets.token_urlsafe(48), var_dir=workdir, media_dir=media_dir, **overrides
        )
    finally:
        os.environ.update(saved)


# --- the benchmark -------------------------------------------------------------------------------------------


async def _measure(workdir: Path, input_dir: Path, manifest: dict[str, Any], rounds: int) -> list[Run]:
    from livestream.db import Database
    from livestream.storage.local import LocalStorage
    from livestream.storage.s3 import S3Storage

    db = Database(f"sqlite+aiosqlite:///{workdir / 'bench.db'}")
    ctx = Context(db, await _make_user(db), input_dir, manifest, workdir, ffmpeg_exe(), StepClock())
    runs: list[Run] = []

    def show(run: Run) -> None:
        runs.append(run)
        fraction = run.seconds / manifest["seconds"]
        steps = ", ".join(f"{k.split(' (')[0]} {v:.2f}" for k, v in run.steps.items() if v >= 0.05)
        progress(
            f"  round {run.round_no}/{rounds} {run.storage:<5} {run.kind:<8} {run.seconds:7.2f} s  "
            f"fraction {fraction:.4f}  {run.bytes / 1e6:,.0f} MB"
            + (f"  ready at {run.detail['ready_s']:.2f} s" if run.detail.get("ready_s") is not None else "")
            + (f"  [{steps}]" if steps else "")
        )

    try:
        with instrumented(ctx.clock):
            media = workdir / "local"
            local = LocalStorage(media)
            for round_no in range(1, rounds + 1):
                show(await run_cat(ctx, media, round_no))
                show(await run_ours(ctx, local, media, mp4=False, label="local", round_no=round_no))
                show(await run_ours(ctx, local, media, mp4=True, label="local+mp4", round_no=round_no))
            with aws_test_credentials(workdir):
                server = _s3_support().start_s3_server(workdir / "moto.log")
                try:
                    media = workdir / "s3"
                    settings = _settings(
                        media,
                        workdir,
                        storage="s3",
                        s3_bucket=_s3_support().make_bucket(server.endpoint),
                        s3_endpoint_url=server.endpoint,
                    )
                    joined = workdir / "joined"
                    staging = workdir / "staging"
                    await asyncio.to_thread(copy_input, input_dir, staging, INPUT_STREAM)
                    await asyncio.to_thread(cat_renditions, staging / "live" / str(INPUT_STREAM), joined)
                    await asyncio.to_thread(shutil.rmtree, staging)
                    baseline = await asyncio.to_thread(UploadBaseline, settings, sorted(joined.glob("v*.ts")))
                    s3 = S3Storage(settings)
                    await s3.list("warm-up/")  # the client is made before the timed part, as in a running server
                    try:
                        for round_no in range(1, rounds + 1):
                            show(await run_upload(ctx, baseline, round_no))
                            show(await run_ours(ctx, s3, media, mp4=False, label="s3", round_no=round_no))
                            show(await run_ours(ctx, s3, media, mp4=True, label="s3+mp4", round_no=round_no))
                    finally:
                        baseline.close()
                        await s3.close()
                finally:
                    server.stop()
    finally:
        await db.dispose()
    return runs


def run(options: Options) -> BenchResult:
    from livestream.migrate import upgrade

    seconds = QUICK_S if options.quick else FULL_S
    rounds = 1 if options.quick else max(1, min(options.rounds, 2))
    machine = machine_info()
    input_dir, manifest = build_input(seconds)
    rungs = ", ".join(
        f"{r['name']} {r['segments']} segments {r['bytes'] / 1e6:,.1f} MB ({r['kbps_measured']:,} kbit/s)"
        for r in manifest["renditions"]
    )
    progress(
        f"  input: {seconds} s, {manifest['total_bytes'] / 1e6:,.1f} MB in all: ladder "
        f"{manifest['ladder_bytes'] / 1e6:,.1f} MB ({rungs}); recording {manifest['recording_bytes'] / 1e6:,.1f} MB "
        f"({manifest['recording_kbps_measured']:,} kbit/s)"
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="archive-work-", dir=RESULTS_DIR) as tmp:
        workdir = Path(tmp)
        upgrade(f"sqlite+aiosqlite:///{workdir / 'bench.db'}")
        _quiet_logs()
        runs = run_async(_measure(workdir, input_dir, manifest, rounds))
    machine["load_average_after"] = machine_info()["load_average"]
    return _result(runs, manifest, options, machine, rounds)


def _quiet_logs() -> None:
    from livestream.logging import configure_logging

    configure_logging("WARNING")


def _median(runs: list[Run], storage: str, kind: str) -> float | None:
    values = [r.seconds for r in runs if r.storage == storage and r.kind == kind]
    return statistics.median(values) if values else None


def _median_detail(runs: list[Run], storage: str, kind: str, key: str) -> float | None:
    values = [r.detail[key] for r in runs if r.storage == storage and r.kind == kind and r.detail.get(key) is not None]
    return round(statistics.median(values), 3) if values else None


def _median_steps(runs: list[Run], storage: str, kind: str) -> dict[str, float]:
    chosen = [r.steps for r in runs if r.storage == storage and r.kind == kind]
    if not chosen:
        return {}
    return {k: round(statistics.median(s[k] for s in chosen), 3) for k in chosen[0]}


def _result(
    runs: list[Run], manifest: dict[str, Any], options: Options, machine: dict[str, Any], rounds: int
) -> BenchResult:
    seconds = float(manifest["seconds"])
    verdicts = Verdicts()
    rows: list[list[str]] = []
    summary: dict[str, Any] = {}
    baseline_label = {"local": "cat segments -> one file per rendition", "s3": "boto3 upload_file, same bytes"}
    local_cat = _median(runs, "local", "baseline")
    for storage in ("local", "s3"):
        base = _median(runs, storage, "baseline")
        entry: dict[str, Any] = {"baseline_s": base}
        for kind in KINDS:
            value = _median(runs, storage, kind)
            if value is None:
                continue
            each = [f"{r.seconds:.2f}" for r in runs if r.storage == storage and r.kind == kind]
            ratio = value / base if base and kind != "baseline" else None
            size = next(r.bytes for r in runs if r.storage == storage and r.kind == kind)
            label = baseline_label[storage] if kind == "baseline" else kind
            ready = _median_detail(runs, storage, kind, "ready_s")
            rows.append(
                [
                    f"{storage} {label}",
                    f"{value:.2f}",
                    "-" if ready is None else f"{ready:.2f}",
                    ", ".join(each),
                    f"{value / seconds:.4f}",
                    "-" if ratio is None else f"{ratio:.2f}",
                    f"{size / 1e6:,.0f}",
                    f"{size / 1e6 / value:,.0f}",
                ]
            )
            if kind != "baseline":
                entry[kind] = {
                    "seconds": round(value, 3),
                    "ready_s": ready,
                    "fsync_stored_s": _median_detail(runs, storage, kind, "fsync_stored_s"),
                    "fraction": round(value / seconds, 5),
                    "ratio": None if ratio is None else round(ratio, 3),
                    "steps_median": _median_steps(runs, storage, kind),
                }
        if storage == "s3" and local_cat is not None and base is not None and "ours" in entry:
            entry["ratio_vs_cat_plus_upload"] = round(entry["ours"]["seconds"] / (local_cat + base), 3)
        summary[storage] = entry
        ours = entry.get("ours")
        verdicts.check(
            f"{storage}: finalise / recording duration ({seconds:g} s, LS_ARCHIVE_MP4 off)",
            None if ours is None else ours["fraction"],
            TARGET_FRACTION,
            unit="",
        )
    table = format_table(
        ["run", "median s", "to ready s", "each round s", "fraction", "ratio", "MB", "MB/s"],
        rows,
    )
    step_names = list(next((r.steps for r in runs if r.kind != "baseline"), {}))
    step_rows = []
    for storage in ("local", "s3"):
        for kind in ("ours", "ours+mp4"):
            steps = _median_steps(runs, storage, kind)
            if steps:
                step_rows.append([f"{storage} {kind}", *(f"{steps[n]:.2f}" for n in step_names)])
    steps_table = format_table(["median s per step", *(n.split(" (")[0] for n in step_names)], step_rows)
    extra = []
    fsync = summary.get("local", {}).get("ours", {}).get("fsync_stored_s")
    if fsync is not None:
        extra.append(
            f"local: fsync of the stored archive files right after finalise returned (not part of finalise, which "
            f"deletes the sources without making the archive durable): {fsync:.2f} s (median)"
        )
    if "ratio_vs_cat_plus_upload" in summary.get("s3", {}):
        extra.append(
            f"s3 ours / (local cat + upload baselines), the two copies the S3 path makes: "
            f"{summary['s3']['ratio_vs_cat_plus_upload']:.2f}"
        )
    report = "\n".join(
        [
            f"{NAME}: {DESCRIPTION}",
            f"input: {seconds:g} s recording, 3 renditions, {manifest['ladder_bytes'] / 1e6:,.1f} MB of segments + "
            f"{manifest['recording_bytes'] / 1e6:,.1f} MB recording = {manifest['total_bytes'] / 1e6:,.1f} MB; "
            f"medians of {rounds} alternated round(s); fraction = seconds / {seconds:g} s; ratio = ours / baseline",
            "",
            table,
            "",
            steps_table,
            "(to ready: ensure() to the row saying ready, before the sources are deleted; "
            "scan: list the segments; measure: first PTS of every segment; join: copy them into v{i}.ts; store: "
            "put_file of every object (local: a rename); delete sources: rmtree of work, live and recordings; "
            "rest: ensure, claim, progress writes, the final row)",
            *extra,
            *verdicts.lines,
            machine_line(machine),
        ]
    )
    data: dict[str, Any] = {
        "description": DESCRIPTION,
        "date": now_utc(),
        "quick": options.quick,
        "options": {"seconds": seconds, "rounds": rounds, "chunk_seconds": CHUNK_S},
        "target_fraction": TARGET_FRACTION,
        "input": manifest,
        "summary": summary,
        "checks": verdicts.checks,
        "machine": machine,
        "versions": {"ffmpeg": ffmpeg_version(), **package_versions("boto3", "moto", "sqlalchemy", "aiosqlite")},
        "source": source_state(),
        "runs": [r.to_json() for r in runs],
    }
    return BenchResult(name=NAME, ok=not verdicts.failures, report=report, data=data, failures=verdicts.failures)
