"""The bridge between RTMP publishers and streams: key check, stream lifecycle, the transcoder feed.

One ``LivePipeline`` per live stream. It outlives a publisher's connection for the reconnect window, keeping
the same ffmpeg process fed (timestamps shifted to stay monotonic), so a reconnect continues the same stream,
the same playlists and the same recording.

Tags go from the RTMP read loop to ffmpeg without touching the database: the periodic ``last_ingest_at`` write
(what the reconciler reads after a crash) is done by one background task per manager, so a slow or locked
database delays that write and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from livestream.config import Settings
from livestream.db import Database, utcnow
from livestream.logging import get_logger
from livestream.media import files
from livestream.media.ladder import SourceInfo, build_ladder
from livestream.media.playlists import first_program_date_time
from livestream.media.rtmp.flv import flv_header, flv_tag
from livestream.media.rtmp.server import IngestStats, PublisherControl, PublishRejected, PublishSession
from livestream.media.transcoder import Transcoder, TranscoderError
from livestream.streams.keys import StreamKeyCipher
from livestream.streams.lifecycle import MediaState, StreamLifecycle, StreamTransition
from livestream.streams.models import Stream
from livestream.streams.repository import StreamKeyRepository, StreamRepository
from livestream.streams.schemas import IngestHealth, StreamHealth, TranscoderHealth
from livestream.streams.service import StreamKeyService
from livestream.users.repository import UserRepository

log = get_logger("livestream.ingest")

AUDIO, VIDEO, SCRIPT = 8, 9, 18
# After a reconnect the new publisher's clock restarts at zero; leave this much room after the last tag.
RECONNECT_GAP_MS = 100
# How often streams that received tags get their last_ingest_at written (read at run time: tests shorten it).
TOUCH_EVERY_S = 5.0
# How long ffmpeg may take to flush its last segments and exit once its input is closed.
FINISH_TIMEOUT_S = 30.0
MAX_HELD_TAGS = 256
# onMetaData is whatever the publisher says: figures outside these ranges (Infinity, NaN, 1e300, negative) are
# treated as absent. Twice 8K in pixels, frame rates well past any camera, 1 Gbit/s of video.
METADATA_RANGES: dict[str, tuple[float, float]] = {  # inclusive; zero never counts either
    "width": (2, 16384),
    "height": (2, 16384),
    "framerate": (0, 1000),
    "fps": (0, 1000),
    "videodatarate": (0, 1_000_000),  # kbit/s
    "audiodatarate": (0, 100_000),  # kbit/s
}


@dataclass
class LivePipeline:
    stream_id: uuid.UUID
    user_id: uuid.UUID
    out_dir: Path
    transcoder: Transcoder | None = None
    control: PublisherControl | None = None
    ts_offset: int | None = None
    last_ts: int = 0
    parts: int = 0
    ending: bool = False
    end_task: asyncio.Task[None] | None = None
    ready_task: asyncio.Task[None] | None = None
    # Tags were fed since the last write of last_ingest_at (the manager's touch task clears it).
    fed_since_touch: bool = False
    renditions: list[str] = field(default_factory=list)
    # Ingest clock: wall time at which the first tag fed to the current transcoder entered the server.
    first_tag_wall: float | None = None
    # Seconds to add to ffmpeg's EXT-X-PROGRAM-DATE-TIME (its own clock, taken when its muxer starts, a
    # second or more after the media arrived) so playlists carry the ingest clock.
    pdt_offset_s: float | None = None


Spawn = Callable[[Coroutine[Any, Any, Any], str], object]


def _spawn_task(coroutine: Coroutine[Any, Any, Any], name: str) -> object:
    return asyncio.create_task(coroutine, name=name)


class IngestManager:
    """Publishers in, transcoders fed; every change of a stream's state goes through the lifecycle."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        lifecycle: StreamLifecycle | None = None,
        *,
        spawn: Spawn = _spawn_task,
        on_media_finished: Callable[[uuid.UUID], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.lifecycle = lifecycle or StreamLifecycle()
        # Supervised background work (the app's job runtime): finishing a transcoder never holds a request.
        self._spawn = spawn
        # Told once a stream's transcoder has exited and its files are complete (the archive may start).
        self._on_media_finished = on_media_finished
        self.cipher = StreamKeyCipher(settings.secret_key)
        self._by_user: dict[uuid.UUID, LivePipeline] = {}
        self._by_stream: dict[uuid.UUID, LivePipeline] = {}
        self._finishing: dict[uuid.UUID, asyncio.Event] = {}
        self._lock = asyncio.Lock()
        self._touch_task: asyncio.Task[None] | None = None

    # --- RTMP PublishHandler -----------------------------------------------------------------------------

    async def authorize(self, app: str, stream_key: str, client: str, control: PublisherControl) -> PublishSession:
        if app != "live":
            raise PublishRejected(description="unknown application")
        async with self.db.sessionmaker() as session:
            user_id = await StreamKeyService(StreamKeyRepository(session), self.cipher).resolve(stream_key)
        if user_id is None:
            log.warning("publish_refused", reason="unknown_key", client=client)
            raise PublishRejected(description="unknown or rotated stream key")
        self._ensure_touch_task()
        async with self._lock:
            pipeline = self._by_user.get(user_id)
            if pipeline is not None and (pipeline.control is not None or pipeline.ending):
                log.warning("publish_refused", reason="already_publishing", client=client, user_id=str(user_id))
                raise PublishRejected(description="already publishing")
            if pipeline is None:
                pipeline = await self._open_pipeline(user_id)
            elif pipeline.end_task is not None:
                pipeline.end_task.cancel()
                pipeline.end_task = None
            pipeline.control = control
            pipeline.ts_offset = None
        log.info("publish_started", stream_id=str(pipeline.stream_id), client=client)
        if pipeline.transcoder is not None and pipeline.transcoder.first_playlist_at is not None:
            await self._set_state(pipeline.stream_id, "live")
        return IngestSession(self, pipeline)

    async def _open_pipeline(self, user_id: uuid.UUID) -> LivePipeline:
        """The creator's open stream, or a new one (going live straight from OBS)."""
        async with self.db.unit_of_work() as session:
            streams = StreamRepository(session)
            stream = await streams.live_for_user(user_id)
            if stream is None:
                user = await UserRepository(session).get(user_id)
                title = f"{(user.display_name or user.username) if user else 'Creator'} is live"
                stream = await self.lifecycle.open(streams, user_id, title, None)
            self.lifecycle.set_media_state(streams, stream, "waiting", ingest_at=utcnow())
            stream_id = stream.stream_id
        pipeline = LivePipeline(
            stream_id=stream_id, user_id=user_id, out_dir=files.live_dir(self.settings.media_dir, stream_id)
        )
        self._by_user[user_id] = pipeline
        self._by_stream[stream_id] = pipeline
        return pipeline

    # --- called by IngestSession -------------------------------------------------------------------------

    async def start_transcoder(
        self, pipeline: LivePipeline, metadata: dict[str, Any], *, has_audio: bool | None = None
    ) -> None:
        source = _source_info(metadata, has_audio=has_audio)
        ladder = build_ladder(source, self.settings.transcode, max_height=self.settings.transcode_max_height)
        pipeline.parts += 1
        recordings = files.recordings_dir(self.settings.media_dir, pipeline.stream_id)
        recording = recordings / f"part-{pipeline.parts:03d}.ts"
        recording.parent.mkdir(parents=True, exist_ok=True)
        pipeline.out_dir.mkdir(parents=True, exist_ok=True)
        files.clear_finished(self.settings.media_dir, pipeline.stream_id)
        transcoder = Transcoder(
            ffmpeg=self.settings.ffmpeg_path,
            source=source,
            ladder=ladder,
            out_dir=pipeline.out_dir,
            recording_path=recording,
            segment_seconds=self.settings.hls_segment_seconds,
            thumbnail_interval=self.settings.thumbnail_seconds,
            part=pipeline.parts,
        )
        await transcoder.start()
        await transcoder.write(flv_header(has_audio=source.audio, has_video=True))
        pipeline.transcoder = transcoder
        pipeline.first_tag_wall = None
        pipeline.pdt_offset_s = None
        pipeline.renditions = [r.name for r in ladder]
        pipeline.ready_task = asyncio.create_task(self._await_first_playlist(pipeline, transcoder))

    async def _await_first_playlist(self, pipeline: LivePipeline, transcoder: Transcoder) -> None:
        try:
            await transcoder.wait_first_playlist(timeout=60)
        except (TimeoutError, TranscoderError) as exc:
            log.error("first_playlist_missing", stream_id=str(pipeline.stream_id), error=str(exc))
            return
        pipeline.pdt_offset_s = _pdt_offset(transcoder.variant_playlists, pipeline.first_tag_wall)
        if pipeline.control is not None and not pipeline.ending:
            await self._set_state(pipeline.stream_id, "live")

    async def feed(self, pipeline: LivePipeline, tag_type: int, timestamp: int, payload: bytes) -> None:
        transcoder = pipeline.transcoder
        if transcoder is None or pipeline.ending:
            return
        if pipeline.ts_offset is None:
            # First tag of this connection: continue after the previous connection's last tag.
            pipeline.ts_offset = (pipeline.last_ts + RECONNECT_GAP_MS - timestamp) if pipeline.last_ts else 0
        out_ts = max(0, timestamp + pipeline.ts_offset)
        pipeline.last_ts = max(pipeline.last_ts, out_ts)
        if pipeline.first_tag_wall is None:
            arrival = pipeline.control.stats.last_arrival if pipeline.control is not None else None
            pipeline.first_tag_wall = arrival.wall_time if arrival is not None else time.time()
        try:
            await transcoder.write(flv_tag(tag_type, out_ts, payload))
        except TranscoderError as exc:
            log.error("transcoder_failed", stream_id=str(pipeline.stream_id), error=str(exc))
            if pipeline.control is not None:
                await pipeline.control.disconnect("transcoder failed")
            return
        pipeline.fed_since_touch = True  # written by the touch task, never here: this is the RTMP read path

    # --- last_ingest_at, off the read path ---------------------------------------------------------------

    def _ensure_touch_task(self) -> None:
        """Start the touch task with the first publisher (and again should it ever have ended)."""
        if self._touch_task is None or self._touch_task.done():
            self._touch_task = asyncio.create_task(self._touch_loop(), name="ingest-touch")
            self._touch_task.add_done_callback(_report_touch_task_end)

    async def _touch_loop(self) -> None:
        while True:
            await asyncio.sleep(TOUCH_EVERY_S)
            await self.touch_fed_streams()

    async def touch_fed_streams(self) -> None:
        """One write of ``last_ingest_at`` for every stream fed since the last; a failed write is retried next time.

        The touch task calls it every ``TOUCH_EVERY_S``; the RTMP read loop never waits for it. A stream found
        ended here was ended by another process (an API node): its pipeline is finished in this one.
        """
        fed = [pipeline for pipeline in self._by_stream.values() if pipeline.fed_since_touch]
        if not fed:
            return
        for pipeline in fed:
            pipeline.fed_since_touch = False
        ended: list[uuid.UUID] = []
        try:
            async with self.db.unit_of_work() as session:
                streams, now = StreamRepository(session), utcnow()
                for pipeline in fed:
                    if not await streams.touch_ingest(pipeline.stream_id, now):
                        ended.append(pipeline.stream_id)
        except Exception as exc:
            log.warning("ingest_touch_failed", streams=len(fed), error=f"{type(exc).__name__}: {exc}")
            for pipeline in fed:
                pipeline.fed_since_touch = True
            return
        for stream_id in ended:
            self._finish_later(stream_id, "stream ended")

    async def publisher_gone(self, pipeline: LivePipeline, reason: str) -> None:
        pipeline.control = None
        log.info("publish_stopped", stream_id=str(pipeline.stream_id), reason=reason)
        if pipeline.ending:
            return
        await self._set_state(pipeline.stream_id, "reconnecting", touch=True)
        pipeline.end_task = asyncio.create_task(
            self._end_after(pipeline.stream_id, self.settings.reconnect_window_seconds)
        )

    async def _end_after(self, stream_id: uuid.UUID, delay: float) -> None:
        await asyncio.sleep(delay)
        log.info("reconnect_window_passed", stream_id=str(stream_id))
        await self.end_stream(stream_id)

    # --- lifecycle used by the API and the reconciler ----------------------------------------------------

    async def end_stream(self, stream_id: uuid.UUID, *, at: datetime | None = None) -> None:
        """End the stream (the reconnect window passed); the "ended" event then finishes its pipeline."""
        async with self.db.unit_of_work() as session:
            streams = StreamRepository(session)
            stream = await streams.get(stream_id)
            ended = stream is not None and await self.lifecycle.end(streams, stream, at=at)
        if not ended:
            # Already ended by someone else, whose event this process may not have seen: finish here anyway.
            self._finish_later(stream_id, "stream ended")

    async def on_transition(self, transition: StreamTransition) -> None:
        """Lifecycle subscriber: an ended stream's publisher is disconnected and its transcoder finished, in
        the background (whoever ended it does not wait for ffmpeg)."""
        if transition.kind == "ended":
            self._finish_later(transition.stream_id, "stream ended")

    def _finish_later(self, stream_id: uuid.UUID, reason: str) -> None:
        if stream_id in self._by_stream and stream_id not in self._finishing:
            self._finishing[stream_id] = asyncio.Event()
            self._spawn(self.finish(stream_id, reason=reason), f"ingest-finish:{stream_id}")

    async def wait_finished(self, stream_id: uuid.UUID) -> None:
        """Until this process's transcoder for the stream, if any, has exited."""
        event = self._finishing.get(stream_id)
        if event is not None:
            await event.wait()

    def finishing(self, stream_id: uuid.UUID) -> bool:
        """A transcoder of this process is still running for the stream (live, or flushing its last segments).
        A pipeline without one (waiting out a window after a restart, or OBS connected and sent nothing) is not."""
        pipeline = self._by_stream.get(stream_id)
        return pipeline is not None and pipeline.transcoder is not None and pipeline.transcoder.running

    async def finish(self, stream_id: uuid.UUID, *, reason: str = "stream ended") -> None:
        """Disconnect the publisher, finish the transcoder (playlists get ENDLIST, the recording is closed)."""
        pipeline = self._by_stream.get(stream_id)
        done = self._finishing.setdefault(stream_id, asyncio.Event())
        if pipeline is None:
            done.set()
            self._finishing.pop(stream_id, None)
            return
        try:
            pipeline.ending = True
            current = asyncio.current_task()
            for task in (pipeline.end_task, pipeline.ready_task):
                if task is not None and task is not current:
                    task.cancel()
            if pipeline.control is not None:
                await pipeline.control.disconnect(reason)
            if pipeline.transcoder is not None:
                try:
                    await pipeline.transcoder.finish(timeout=FINISH_TIMEOUT_S)
                except TranscoderError as exc:
                    log.warning("transcoder_finish_failed", stream_id=str(stream_id), error=str(exc))
                    await pipeline.transcoder.kill()
        finally:
            self._by_stream.pop(stream_id, None)
            if self._by_user.get(pipeline.user_id) is pipeline:
                self._by_user.pop(pipeline.user_id, None)
            if pipeline.transcoder is not None:
                await asyncio.to_thread(files.mark_finished, self.settings.media_dir, stream_id)
            done.set()
            self._finishing.pop(stream_id, None)
        if self._on_media_finished is not None:
            # Also for a pipeline that never had a transcoder: the archive job, if any, need not wait.
            await self._on_media_finished(stream_id)

    async def reconcile(self) -> None:
        """At start-up: streams left live by a crash end once their reconnect window has passed."""
        window = timedelta(seconds=self.settings.reconnect_window_seconds)
        now = utcnow()
        async with self.db.unit_of_work() as session:
            streams = StreamRepository(session)
            for stream in await streams.live_streams():
                if stream.last_ingest_at is None:
                    continue  # opened from the dashboard, never received media: still waiting for OBS
                if stream.stream_id in self._by_stream:
                    continue  # this process is publishing it
                deadline = stream.last_ingest_at + window
                if deadline <= now:
                    await self.lifecycle.end(streams, stream, at=stream.last_ingest_at)
                    log.info("reconciler_ended_stream", stream_id=str(stream.stream_id))
                else:
                    self.lifecycle.set_media_state(streams, stream, "reconnecting")
                    self._schedule_orphan_end(stream, (deadline - now).total_seconds())

    async def end_stale(self) -> None:
        """Periodic reconciler: live streams whose media stopped arriving more than a reconnect window ago, and
        that no process is publishing (those touch ``last_ingest_at`` every few seconds), are ended."""
        margin = timedelta(seconds=self.settings.reconnect_window_seconds + 3 * TOUCH_EVERY_S)
        async with self.db.unit_of_work() as session:
            streams = StreamRepository(session)
            for stream in await streams.stale_live(utcnow() - margin):
                if stream.stream_id in self._by_stream:
                    continue  # this process is waiting out its window
                if stream.last_ingest_at is not None and await self.lifecycle.end(
                    streams, stream, at=stream.last_ingest_at
                ):
                    log.info("reconciler_ended_stale_stream", stream_id=str(stream.stream_id))

    def _schedule_orphan_end(self, stream: Stream, delay: float) -> None:
        pipeline = LivePipeline(
            stream_id=stream.stream_id,
            user_id=stream.user_id,
            out_dir=files.live_dir(self.settings.media_dir, stream.stream_id),
        )
        # Earlier recording parts stay; a reconnect starts the next part.
        pipeline.parts = len(files.recording_parts(self.settings.media_dir, stream.stream_id))
        pipeline.end_task = asyncio.create_task(self._end_after(stream.stream_id, delay))
        self._by_user[stream.user_id] = pipeline
        self._by_stream[stream.stream_id] = pipeline

    async def close(self) -> None:
        """Shutting down: transcoders finish (the recording and segments are complete); streams stay live, and
        the next start's reconciler ends them once their window has passed, unless the creator is back."""
        task, self._touch_task = self._touch_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for stream_id in list(self._by_stream):
            pipeline = self._by_stream.get(stream_id)
            if pipeline is None:
                continue  # its finish (an end in the background) completed meanwhile
            if pipeline.end_task is not None:
                pipeline.end_task.cancel()
            await self.finish(stream_id, reason="server shutting down")
        for stream_id in list(self._finishing):
            await self.wait_finished(stream_id)

    def pipeline_for_user(self, user_id: uuid.UUID) -> LivePipeline | None:
        """The creator's pipeline: live, waiting out its reconnect window or ending; None when there is none.

        ``pipeline.control`` is set while a publisher is connected (``control.stats`` are its ingest figures) and
        ``pipeline.transcoder`` once ffmpeg runs. Read-only for callers (the benchmarks, diagnostics).
        """
        return self._by_user.get(user_id)

    def publisher_stats(self, user_id: uuid.UUID) -> IngestStats | None:
        """The ingest figures of the creator's connected publisher; None while none is connected."""
        pipeline = self._by_user.get(user_id)
        return pipeline.control.stats if pipeline is not None and pipeline.control is not None else None

    def pdt_offset(self, stream_id: uuid.UUID) -> float | None:
        pipeline = self._by_stream.get(stream_id)
        return pipeline.pdt_offset_s if pipeline is not None else None

    def health(self, stream_id: uuid.UUID, media_state: str) -> StreamHealth:
        pipeline = self._by_stream.get(stream_id)
        ingest = transcoder = None
        renditions: list[str] = []
        if pipeline is not None:
            renditions = pipeline.renditions
            if pipeline.control is not None:
                stats = pipeline.control.stats
                ingest = IngestHealth(
                    connected=True,
                    bitrate_kbps=round(stats.bitrate_bps / 1000, 1),
                    fps=round(stats.fps, 2),
                    keyframe_interval_s=stats.keyframe_interval,
                    video_codec=stats.video_codec,
                    audio_codec=stats.audio_codec,
                )
            if pipeline.transcoder is not None:
                t = pipeline.transcoder.stats
                transcoder = TranscoderHealth(fps=t.fps, speed=t.speed, bitrate_kbps=t.bitrate_kbps)
        return StreamHealth(
            stream_id=stream_id, media_state=media_state, ingest=ingest, transcoder=transcoder, renditions=renditions
        )

    async def _set_state(self, stream_id: uuid.UUID, state: MediaState, *, touch: bool = False) -> None:
        async with self.db.unit_of_work() as session:
            streams = StreamRepository(session)
            stream = await streams.get(stream_id)
            if stream is not None:
                self.lifecycle.set_media_state(streams, stream, state, ingest_at=utcnow() if touch else None)


class IngestSession:
    """One publisher connection's view of its pipeline."""

    def __init__(self, manager: IngestManager, pipeline: LivePipeline) -> None:
        self.manager = manager
        self.pipeline = pipeline
        self.metadata: dict[str, Any] = {}
        self._closed = False
        # Without onMetaData the source is learnt from its first tags: held until the first video tag.
        self._held: list[tuple[int, int, bytes]] = []

    async def on_metadata(self, metadata: dict[str, Any]) -> None:
        self.metadata = metadata
        if self.pipeline.transcoder is None:
            await self.manager.start_transcoder(self.pipeline, metadata)

    async def on_tag(self, tag_type: int, timestamp_ms: int, payload: bytes) -> None:
        if tag_type == SCRIPT:
            # Metadata arrives through on_metadata; a reconnected encoder's onMetaData in the middle of the
            # FLV stream would only confuse ffmpeg's demuxer.
            return
        if self.pipeline.transcoder is None:
            self._held.append((tag_type, timestamp_ms, payload))
            if tag_type != VIDEO and len(self._held) < MAX_HELD_TAGS:
                return
            has_audio = any(kind == AUDIO for kind, _, _ in self._held)
            await self.manager.start_transcoder(self.pipeline, self.metadata, has_audio=has_audio)
            held, self._held = self._held, []
            for kind, ts, data in held:
                await self.manager.feed(self.pipeline, kind, ts, data)
            return
        await self.manager.feed(self.pipeline, tag_type, timestamp_ms, payload)

    async def on_close(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            await self.manager.publisher_gone(self.pipeline, reason)


def _pdt_offset(variant_playlists: list[Path], first_tag_wall: float | None) -> float | None:
    """Ingest clock minus ffmpeg's clock, from the first segment's EXT-X-PROGRAM-DATE-TIME."""
    if first_tag_wall is None or not variant_playlists:
        return None
    try:
        text = variant_playlists[0].read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    stamp = first_program_date_time(text)
    return None if stamp is None else first_tag_wall - stamp.timestamp()


def _report_touch_task_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("ingest_touch_task_died", error=repr(task.exception()))  # restarted by the next publish


def metadata_number(metadata: dict[str, Any], key: str) -> float | None:
    """A positive, finite, plausible figure of onMetaData (see ``METADATA_RANGES``), else None (absent)."""
    value = metadata.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float: AMF0 never sends one, a caller might
        return None
    low, high = METADATA_RANGES.get(key, (0.0, math.inf))
    return number if math.isfinite(number) and number > 0 and low <= number <= high else None


def _source_info(metadata: dict[str, Any], *, has_audio: bool | None = None) -> SourceInfo:
    """The source as onMetaData describes it; ``has_audio`` when the tags themselves told (no metadata)."""

    def number(key: str) -> float | None:
        return metadata_number(metadata, key)

    width = int(number("width") or 1280)
    height = int(number("height") or 720)
    fps = number("framerate") or number("fps") or 30.0
    bitrate = number("videodatarate")
    if has_audio is None:
        has_audio = metadata.get("audiocodecid") is not None or number("audiodatarate") is not None
    return SourceInfo(
        width=width, height=height, fps=fps, video_bitrate_kbps=int(bitrate) if bitrate else None, audio=has_audio
    )
