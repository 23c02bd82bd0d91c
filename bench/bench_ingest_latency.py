"""Ingest-to-playlist latency, in ``LS_TRANSCODE=abr`` and ``passthrough``: from the publisher's connection
(ffmpeg pushing a synthetic 720p30 source over RTMP in real time) to the first playable playlist (master and
every variant listing a segment), and for each segment from its last video frame entering the RTMP server to
its listing in every variant playlist.

The server runs in this process (as in tests/media/test_live_pipeline.py) so the arrival of every tag can be
read from the connection's IngestStats. Baseline, same run: ffmpeg alone reading the same source in real time
and writing the transcoder's own HLS output (same ladder, encoder and HLS arguments), with no RTMP and no pipe;
its frames enter at the ``-re`` clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import (
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
    SEGMENT_S,
    ArrivalLog,
    LiveApp,
    PlaylistWatcher,
    Processes,
    ProgressClock,
    SegmentTiming,
    Verdicts,
    collect_arrivals,
    direct_from_source,
    ffmpeg_version,
    fmt_s,
    make_creator,
    prepare_out_dir,
    publisher_synthetic,
    rtmp_url,
    run_async,
    source_state,
    summary,
    timings_from_arrivals,
    timings_from_clock,
    wait_until,
)

NAME = "ingest_latency"
DESCRIPTION = (
    "RTMP connect -> first playable playlist, and segment's last frame in -> listed (abr, passthrough), "
    "vs ffmpeg writing the same HLS directly"
)
MODES = ("abr", "passthrough")
TARGET_S = SEGMENT_S + 1.0  # segment length + 1 s
PRODUCER_BOUND_S = 90  # -t of every ffmpeg here: none can outlive a stuck benchmark by much


@dataclass
class Run:
    mode: str
    kind: str  # "app" or "direct"
    spawn_to_ready: float | None = None  # every variant playlist lists a segment
    spawn_to_playable: float | None = None  # ... and the master playlist lists every variant
    connect_to_ready: float | None = None
    connect_to_playable: float | None = None
    master_listed: list[str] = field(default_factory=list)
    spawn_to_connect: float | None = None
    connect_to_api_live: float | None = None
    connect_to_server_ready: float | None = None
    # Start-up breakdown, from the connect (app) or the spawn (direct).
    first_tag: float | None = None  # the first video tag arrives
    transcoder_spawned: float | None = None  # the server has started ffmpeg (seen by a 20 ms poll)
    muxer_init: float | None = None  # ffmpeg's HLS muxer initialised: the first segment's PROGRAM-DATE-TIME
    segments: list[SegmentTiming] = field(default_factory=list)
    variants: int = 0
    command: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def delays(self, *, skip_first: bool = False) -> list[float]:
        return [s.delay for s in self.segments if not (skip_first and s.seq == 0)]

    def pdt_offsets(self) -> list[float]:
        return [s.pdt_offset for s in self.segments if s.pdt_offset is not None]

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "kind": self.kind,
            "variants": self.variants,
            "spawn_to_variants_listed_s": self.spawn_to_ready,
            "spawn_to_playable_s": self.spawn_to_playable,
            "connect_to_variants_listed_s": self.connect_to_ready,
            "connect_to_playable_s": self.connect_to_playable,
            "master_lists": self.master_listed,
            "spawn_to_connect_s": self.spawn_to_connect,
            "connect_to_api_live_s": self.connect_to_api_live,
            "connect_to_server_first_playlist_s": self.connect_to_server_ready,
            "startup": {
                "first_video_tag_s": self.first_tag,
                "transcoder_spawned_s": self.transcoder_spawned,
                "hls_muxer_init_s": self.muxer_init,
            },
            "segment_delay_s": summary(self.delays()),
            "segment_delay_after_first_s": summary(self.delays(skip_first=True)),
            "pdt_offset_s": summary(self.pdt_offsets()),
            "segments": [
                {
                    "seq": s.seq,
                    "media_end_s": round(s.media_end, 4),
                    "last_frame_in": round(s.last_frame_in, 4),
                    "listed_at": round(s.listed_at, 4),
                    "delay_s": round(s.delay, 4),
                    "pdt": s.pdt,
                    "pdt_offset_s": None if s.pdt_offset is None else round(s.pdt_offset, 4),
                }
                for s in self.segments
            ],
            "command": self.command,
            "notes": self.notes,
        }


async def _measure_app(app: LiveApp, creator: Any, procs: Processes, mode: str, run_s: float) -> tuple[Run, Any]:
    run = Run(mode, "app")
    publisher = procs.spawn(
        f"publisher-{mode}", publisher_synthetic(rtmp_url(app.rtmp_port, creator.key), PRODUCER_BOUND_S)
    )
    log = ArrivalLog()
    stop = asyncio.Event()
    collector = asyncio.create_task(collect_arrivals(app, creator.user_id, log, stop))
    api_live: list[float] = []

    async def accepted() -> Any:
        if not publisher.running():
            raise BenchError(f"the publisher exited: {publisher.log_tail()}")
        return app.pipeline_for_user(creator.user_id)

    pipeline = await wait_until(accepted, 30, "the RTMP publish to be accepted")

    async def transcoding() -> int:
        if not publisher.running():
            raise BenchError(f"the publisher exited: {publisher.log_tail()}")
        return len(pipeline.renditions)

    watcher = PlaylistWatcher(pipeline.out_dir, await wait_until(transcoding, 30, "the transcoder")).start()
    transcoder_seen = time.time()

    async def poll_api() -> None:
        while True:
            stream = await app.live_stream(creator.user_id)
            if stream is not None and stream["media_state"] == "live":
                api_live.append(time.time())
                return
            await asyncio.sleep(0.05)

    api_task = asyncio.create_task(poll_api())
    transcoder = None
    try:

        async def ready() -> float | None:
            if not publisher.running():
                raise BenchError(f"the publisher exited: {publisher.log_tail()}")
            return watcher.variants_ready_at

        await wait_until(ready, 40, f"the first segment in every variant playlist ({mode})")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(api_task), 10)
        await asyncio.sleep(run_s + 0.3)
        transcoder = pipeline.transcoder
    finally:
        stop.set()
        await collector
        api_task.cancel()
        await asyncio.gather(api_task, return_exceptions=True)
        stop_wall = time.time()
        procs.stop(publisher)
        with contextlib.suppress(BenchError):

            async def gone() -> bool:
                return pipeline.control is None

            await wait_until(gone, 10, "the server to see the publisher leave")
        # Ends the transcoder (the app's shutdown would too, should this fail).
        with contextlib.suppress(BenchError):
            await app.end_stream(creator, str(pipeline.stream_id))
        watcher.stop()
    if transcoder is None:
        raise BenchError("no transcoder")
    connect = log.connect_wall
    # The transcoder's clock is monotonic; convert it to wall time now (both clocks tick alike over seconds).
    to_wall = time.time() - time.monotonic()
    run.command = list(transcoder.command)
    _readiness(run, watcher, publisher.started_wall, stop_wall)
    if connect is not None:
        run.spawn_to_connect = connect - publisher.started_wall
        run.connect_to_ready = watcher.variants_ready_at - connect if watcher.variants_ready_at else None
        if run.spawn_to_playable is not None:
            run.connect_to_playable = run.spawn_to_playable - run.spawn_to_connect
        run.connect_to_api_live = api_live[0] - connect if api_live else None
        if transcoder.first_playlist_at is not None:
            run.connect_to_server_ready = transcoder.first_playlist_at + to_wall - connect
        frames = log.sorted_frames()
        run.first_tag = frames[0][1] - connect if frames else None
        run.transcoder_spawned = transcoder_seen - connect
        run.muxer_init = _pdt0(watcher) - connect if _pdt0(watcher) else None
    run.segments = [s for s in timings_from_arrivals(watcher, log.sorted_frames()) if s.listed_at < stop_wall]
    if watcher.errors:
        run.notes.append(f"watcher errors: {watcher.errors[:3]}")
    return run, transcoder


def _measure_direct(workdir: Path, procs: Processes, mode: str, transcoder: Any, run_s: float) -> Run:
    run = Run(mode, "direct")
    out = workdir / f"direct-{mode}"
    prepare_out_dir(out, len(transcoder.ladder))
    command = direct_from_source(transcoder.source, transcoder.ladder, out, seconds=PRODUCER_BOUND_S)
    run.command = command
    proc = procs.spawn(f"direct-{mode}", command, stdout_pipe=True)
    clock = ProgressClock(proc)
    watcher = PlaylistWatcher(out, len(transcoder.ladder)).start()
    try:
        watcher.wait_ready(40, alive=proc.running)
        time.sleep(run_s + 0.3)
    finally:
        stop_wall = time.time()
        procs.stop(proc)
        clock.join()
        watcher.stop()
    _readiness(run, watcher, proc.started_wall, stop_wall)
    if clock.start_estimate is None:
        run.notes.append("no progress report from ffmpeg: per-segment delays unknown")
        return run
    run.notes.append(
        f"frames enter on ffmpeg's -re clock, which runs {proc.started_wall - clock.start_estimate:.3f} s ahead of "
        "the spawn (ffmpeg 9 reads about 0.5 s ahead, -readrate_initial_burst 0 or not)"
    )
    run.muxer_init = _pdt0(watcher) - proc.started_wall if _pdt0(watcher) else None
    run.segments = [s for s in timings_from_clock(watcher, clock.start_estimate) if s.listed_at < stop_wall]
    return run


def _pdt0(watcher: PlaylistWatcher) -> float | None:
    segments = watcher.segments()
    return segments[0][3] if segments and segments[0][0] == 0 else None


def _readiness(run: Run, watcher: PlaylistWatcher, spawned: float, live_until: float) -> None:
    """Readiness while the stream was live: a master completed only by ffmpeg's final rewrite does not count."""
    run.variants = len(watcher.variants)
    run.master_listed = list(watcher.master_listed)
    run.spawn_to_ready = watcher.variants_ready_at - spawned if watcher.variants_ready_at else None
    complete = watcher.master_complete_at
    if complete is not None and complete < live_until and watcher.playable_at is not None:
        run.spawn_to_playable = watcher.playable_at - spawned
    elif complete is not None:
        run.notes.append(
            "master.m3u8 listed no variant while live (ffmpeg: 'Bandwidth info not available'); it listed "
            f"{watcher.master_listed} only in the final rewrite, {complete - live_until:.2f} s after the publisher "
            "stopped: no player could start from it while live"
        )
    else:
        run.notes.append(f"master.m3u8 never listed every variant (it lists {watcher.master_listed or 'nothing'})")


async def _measure(workdir: Path, procs: Processes, run_s: float) -> list[Run]:
    from livestream.migrate import upgrade_async

    database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await upgrade_async(database_url)
    secret = secrets.token_urlsafe(36)
    runs: list[Run] = []
    creator = None
    for mode in MODES:
        async with LiveApp(workdir, transcode=mode, database_url=database_url, secret=secret, name=mode) as app:  # type: ignore[arg-type]
            if creator is None:
                creator = await make_creator(app.client, "latency")
            progress(f"  {mode}: app (RTMP -> server -> ffmpeg), {run_s:g} s of segments after the first playlist")
            app_run, transcoder = await _measure_app(app, creator, procs, mode, run_s)
        runs.append(app_run)
        progress(
            f"    first segment listed {fmt_s(app_run.connect_to_ready)} s after connect (master complete: "
            f"{fmt_s(app_run.connect_to_playable)} s), "
            f"segment delay p50 {fmt_s(summary(app_run.delays()).get('p50'))} s"
        )
        progress(f"  {mode}: direct ffmpeg (same source and HLS arguments, no RTMP, no pipe)")
        direct = await asyncio.to_thread(_measure_direct, workdir, procs, mode, transcoder, run_s)
        runs.append(direct)
        progress(
            f"    first segment listed {fmt_s(direct.spawn_to_ready)} s after spawn (master complete: "
            f"{fmt_s(direct.spawn_to_playable)} s), segment delay p50 {fmt_s(summary(direct.delays()).get('p50'))} s"
        )
    return runs


def run(options: Options) -> BenchResult:
    run_s = 1.5 if options.quick else 10.0
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-latency-") as tmp:
        workdir = Path(tmp)
        with Processes(workdir) as procs:
            runs = run_async(_measure(workdir, procs, run_s))
    machine["load_average_after"] = machine_info()["load_average"]
    return _result(runs, options, machine, run_s)


def _result(runs: list[Run], options: Options, machine: dict[str, Any], run_s: float) -> BenchResult:
    verdicts = Verdicts()
    rows: list[list[str]] = []
    ratios: dict[str, dict[str, float | None]] = {}
    extra: list[str] = []
    for mode in MODES:
        app = next(r for r in runs if r.mode == mode and r.kind == "app")
        direct = next(r for r in runs if r.mode == mode and r.kind == "direct")
        for r in (app, direct):
            d = summary(r.delays())
            rows.append(
                [
                    f"{mode} {'app (RTMP)' if r.kind == 'app' else 'direct ffmpeg'}",
                    fmt_s(r.connect_to_ready) if r.kind == "app" else "-",
                    fmt_s(r.connect_to_playable) if r.kind == "app" else "-",
                    fmt_s(r.spawn_to_ready),
                    fmt_s(r.spawn_to_playable),
                    str(d.get("n", 0)),
                    fmt_s(d.get("p50")),
                    fmt_s(d.get("p95")),
                    fmt_s(d.get("max")),
                    fmt_s(summary(r.pdt_offsets()).get("p50")),
                ]
            )
        app_delays = summary(app.delays())
        direct_delays = summary(direct.delays())
        verdicts.check(
            f"{mode}: connect -> first playable playlist (master + every variant)",
            app.connect_to_playable,
            TARGET_S,
            unit=" s",
        )
        verdicts.check(
            f"{mode}: every segment, last frame in -> listed (max)", app_delays.get("max"), TARGET_S, unit=" s"
        )
        if not app.segments:
            verdicts.failures.append(f"{mode}: no complete segment measured")
        ratios[mode] = {
            "variants_listed_from_spawn": (
                round(app.spawn_to_ready / direct.spawn_to_ready, 3)
                if app.spawn_to_ready and direct.spawn_to_ready
                else None
            ),
            "segment_delay_p50": (
                round(app_delays["p50"] / direct_delays["p50"], 3)
                if app_delays.get("p50") and direct_delays.get("p50")
                else None
            ),
        }
        extra.append(
            f"{mode}: publisher spawn -> RTMP connect {fmt_s(app.spawn_to_connect)} s; after connect the server saw "
            f"its first playlist at {fmt_s(app.connect_to_server_ready)} s and the API said media_state live at "
            f"{fmt_s(app.connect_to_api_live)} s. Start-up after connect: first video tag {fmt_s(app.first_tag)} s, "
            f"transcoder spawned {fmt_s(app.transcoder_spawned)} s, ffmpeg HLS muxer initialised (PDT of segment 0) "
            f"{fmt_s(app.muxer_init)} s; direct ffmpeg's muxer initialised {fmt_s(direct.muxer_init)} s after its "
            f"spawn. Ratio app/direct: first segment listed (from spawn) "
            f"{ratios[mode]['variants_listed_from_spawn']}, segment delay p50 {ratios[mode]['segment_delay_p50']}"
        )
        for r in (app, direct):
            delays = " ".join(f"{s.delay:.2f}" for s in r.segments)
            extra.append(f"{mode} {r.kind} segment delays (s, from segment 0): {delays}")
            extra += [f"{mode} {r.kind}: {note}" for note in r.notes]
    table = format_table(
        [
            "run",
            "connect->listed s",
            "connect->playable s",
            "spawn->listed s",
            "spawn->playable s",
            "segs",
            "delay p50 s",
            "p95 s",
            "max s",
            "PDT-in p50 s",
        ],
        rows,
    )
    report = "\n".join(
        [
            f"{NAME}: {DESCRIPTION}",
            f"synthetic 1280x720 30 fps, x264 ultrafast 3000k, 1 s GOP; {SEGMENT_S:g} s segments; "
            f"{run_s:g} s of segments per run after the first playlist",
            "",
            table,
            "",
            *extra,
            "listed: every variant playlist lists a segment (what the server calls live); playable: and the "
            "master playlist lists every variant. delay: a segment's last video frame in -> listed in every variant",
            "PDT-in: EXT-X-PROGRAM-DATE-TIME minus the wall time its first frame entered (RTMP arrival; -re clock "
            "for direct ffmpeg); positive means ffmpeg stamps segments later than the media entered",
            *verdicts.lines,
            machine_line(machine),
        ]
    )
    data: dict[str, Any] = {
        "description": DESCRIPTION,
        "date": now_utc(),
        "quick": options.quick,
        "options": {"run_seconds": run_s, "segment_seconds": SEGMENT_S, "modes": list(MODES)},
        "target_s": TARGET_S,
        "checks": verdicts.checks,
        "ratios": ratios,
        "machine": machine,
        "versions": {"ffmpeg": ffmpeg_version(), **package_versions("uvloop", "fastapi", "imageio-ffmpeg")},
        "source": source_state(),
        "runs": [r.to_json() for r in runs],
    }
    return BenchResult(name=NAME, ok=not verdicts.failures, report=report, data=data, failures=verdicts.failures)
