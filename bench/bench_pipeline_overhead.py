"""Real-time factor of the whole ingest path in ``LS_TRANSCODE=abr``: a pre-encoded 720p30 FLV published as fast
as the server takes it (``ffmpeg -i src.flv -c copy -f flv rtmp://…``, no ``-re``) through our RTMP server, the
pipe and the ffmpeg ladder, against the same ffmpeg command (the Transcoder's own argument builder, with the same
source description and ladder) reading the file directly. Media seconds per wall second, from the publisher's
spawn (or the direct ffmpeg's) until the transcoder has exited with every segment written.

The server runs in this process, so the ladder arguments are those of the very Transcoder the server started.
Runs go app, direct, direct, app, app, direct (ABBA...), so a drift in the machine's load hits both alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import statistics
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
    LiveApp,
    PlaylistWatcher,
    Processes,
    Verdicts,
    direct_from_file,
    encode_flv,
    ffmpeg_version,
    make_creator,
    prepare_out_dir,
    publisher_file,
    rtmp_url,
    run_async,
    source_state,
    wait_until,
)

NAME = "pipeline_overhead"
DESCRIPTION = (
    "real-time factor of RTMP server + pipe + ffmpeg ABR ladder (FLV published as fast as possible) "
    "vs the same ladder command reading the file"
)
TARGET_RATIO = 0.95
SOURCE_KBPS = 3000
RUN_BOUND_S = 120  # no single run may take longer


@dataclass
class Run:
    kind: str  # "app" or "direct"
    media_s: float
    wall_s: float = 0.0
    first_listed_s: float | None = None  # spawn -> every variant lists a segment
    input_done_s: float | None = None  # app: spawn -> the server has read the publisher's last tag
    media_out_s: float | None = None  # what the finished HLS output holds: the media processed
    media_received_s: float | None = None  # app: the last tag timestamp the server fed to ffmpeg
    segments_out: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def processed_s(self) -> float:
        return self.media_out_s if self.media_out_s is not None else self.media_s

    @property
    def rtf(self) -> float:
        """Media seconds processed (in the finished output) per wall second."""
        return self.processed_s / self.wall_s if self.wall_s else 0.0

    @property
    def steady_rtf(self) -> float | None:
        """Media after the first segment per wall second after it was listed: the throughput without start-up."""
        if self.first_listed_s is None or self.wall_s <= self.first_listed_s:
            return None
        return (self.processed_s - SEGMENT_S) / (self.wall_s - self.first_listed_s)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "media_s": self.media_s,
            "wall_s": round(self.wall_s, 4),
            "rtf": round(self.rtf, 4),
            "first_listed_s": self.first_listed_s,
            "steady_rtf": None if self.steady_rtf is None else round(self.steady_rtf, 4),
            "input_done_s": self.input_done_s,
            "media_out_s": self.media_out_s,
            "media_received_s": self.media_received_s,
            "segments_out": self.segments_out,
            "notes": self.notes,
        }


def _output_media(watcher: PlaylistWatcher) -> tuple[float | None, int]:
    """Media seconds in the finished output (every segment before the final playlist's window is a full one)."""
    playlist = watcher.last.get(watcher.variants[0])
    if playlist is None or not playlist.segments:
        return None, 0
    if not playlist.endlist:
        return None, playlist.media_sequence + len(playlist.segments)
    total = playlist.media_sequence * SEGMENT_S + sum(s.duration for s in playlist.segments)
    return round(total, 3), playlist.media_sequence + len(playlist.segments)


def _normalised(command: list[str], out_dir: Path, recording: Path, source: str) -> list[str]:
    swaps = {str(recording): "<recording>", source: "<input>"}
    return [swaps.get(a, a.replace(str(out_dir), "<out>")) for a in command]


async def _app_run(
    app: LiveApp, creator: Any, procs: Processes, flv: Path, media_s: float, label: str
) -> tuple[Run, Any]:
    run = Run("app", media_s)
    publisher = procs.spawn(
        f"publisher-{label}", publisher_file(rtmp_url(app.rtmp_port, creator.key), flv, realtime=False)
    )
    t0 = publisher.started_mono

    async def transcoding() -> Any:
        pipeline = app.pipeline_for_user(creator.user_id)
        if pipeline is not None and pipeline.transcoder is not None:
            return pipeline
        if not publisher.running() and publisher.popen.returncode != 0:
            raise BenchError(f"the publisher failed: {publisher.log_tail()}")
        return None

    pipeline = await wait_until(transcoding, 30, "the server to start the transcoder")
    transcoder = pipeline.transcoder
    watcher = PlaylistWatcher(pipeline.out_dir, len(transcoder.ladder)).start()
    exited: list[float] = []
    waiter = asyncio.create_task(transcoder.wait())
    waiter.add_done_callback(lambda _t: exited.append(time.monotonic()))
    try:

        async def input_done() -> bool:
            return not publisher.running() and pipeline.control is None

        await wait_until(input_done, RUN_BOUND_S, "the publisher to finish and the server to read its last tag")
        run.input_done_s = round(time.monotonic() - t0, 4)
        run.media_received_s = round(pipeline.last_ts / 1000, 3)
        if publisher.popen.returncode != 0:
            run.notes.append(f"publisher exit status {publisher.popen.returncode}: {publisher.log_tail(3)}")
        # Close the transcoder's input: it flushes, writes the last segments and ENDLIST, and exits.
        await app.end_stream(creator, str(pipeline.stream_id))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter, 30)
    finally:
        watcher.stop()
    if not exited:
        raise BenchError("the transcoder did not exit")
    run.wall_s = exited[0] - t0
    if watcher.variants_ready_at is not None:
        run.first_listed_s = round(watcher.variants_ready_at - publisher.started_wall, 4)
    run.media_out_s, run.segments_out = _output_media(watcher)
    return run, transcoder


def _direct_run(
    workdir: Path, procs: Processes, transcoder: Any, flv: Path, media_s: float, limit_s: float | None, label: str
) -> Run:
    """ffmpeg with the server's ladder command reading the file; ``limit_s``: only as much media as the app run
    before it got through, so both amortise their start-up over the same media."""
    run = Run("direct", media_s if limit_s is None else limit_s)
    out = workdir / f"direct-{label}"
    prepare_out_dir(out, len(transcoder.ladder))
    command = direct_from_file(transcoder.source, transcoder.ladder, flv, out, limit_s=limit_s)
    ours = _normalised(command, out, out / "recording.ts", str(flv))
    if limit_s is not None:
        i = ours.index("-t")
        del ours[i : i + 2]
    theirs = _normalised(transcoder.command, transcoder.out_dir, transcoder.recording_path, "pipe:0")
    if ours != theirs:
        raise BenchError(f"the direct command differs from the server's beyond the paths:\n{ours}\n{theirs}")
    watcher = PlaylistWatcher(out, len(transcoder.ladder)).start()
    proc = procs.spawn(f"direct-{label}", command)
    try:
        proc.popen.wait(timeout=RUN_BOUND_S)
    finally:
        end = time.monotonic()
        watcher.stop()
    if proc.popen.returncode != 0:
        raise BenchError(f"direct ffmpeg exited with {proc.popen.returncode}: {proc.log_tail()}")
    run.wall_s = end - proc.started_mono
    if watcher.variants_ready_at is not None:
        run.first_listed_s = round(watcher.variants_ready_at - proc.started_wall, 4)
    run.media_out_s, run.segments_out = _output_media(watcher)
    return run


async def _measure(workdir: Path, procs: Processes, flv: Path, media_s: float, rounds: int) -> tuple[list[Run], Any]:
    from livestream.migrate import upgrade_async

    database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await upgrade_async(database_url)
    runs: list[Run] = []
    transcoder: Any = None
    limit_s: float | None = None
    async with LiveApp(
        workdir, transcode="abr", database_url=database_url, secret=secrets.token_urlsafe(36), name="abr"
    ) as app:
        creator = await make_creator(app.client, "overhead")
        order = ["app", "direct", "direct", "app"] * ((rounds + 1) // 2)
        for i, kind in enumerate(order[: 2 * rounds]):
            label = f"{kind}-{i}"
            if kind == "app":
                result, transcoder = await _app_run(app, creator, procs, flv, media_s, label)
                # Publishing faster than real time, the app may lose the end of the file (see the report).
                limit_s = result.media_out_s if result.media_out_s and result.media_out_s < media_s - 0.1 else None
            else:
                result = await asyncio.to_thread(_direct_run, workdir, procs, transcoder, flv, media_s, limit_s, label)
            runs.append(result)
            progress(
                f"  {kind:<6} {result.processed_s:g} of {media_s:g} s of media in {result.wall_s:6.2f} s: "
                f"{result.rtf:5.2f}x real time "
                f"(first segment listed at {result.first_listed_s} s, {result.segments_out} segments)"
            )
    return runs, transcoder


def run(options: Options) -> BenchResult:
    media_s = 5.0 if options.quick else 15.0
    rounds = 1 if options.quick else 3
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-overhead-") as tmp:
        workdir = Path(tmp)
        flv = encode_flv(workdir / "src.flv", seconds=media_s, video_kbps=SOURCE_KBPS)
        size = flv.stat().st_size
        with Processes(workdir) as procs:
            runs, transcoder = run_async(_measure(workdir, procs, flv, media_s, rounds))
        command = list(transcoder.command)
        ladder = [f"{r.name} {r.width}x{r.height} {r.video_bitrate_kbps}k" for r in transcoder.ladder]
    machine["load_average_after"] = machine_info()["load_average"]
    return _result(runs, options, machine, media_s, size, command, ladder)


def _result(
    runs: list[Run],
    options: Options,
    machine: dict[str, Any],
    media_s: float,
    size: int,
    command: list[str],
    ladder: list[str],
) -> BenchResult:
    apps = [r for r in runs if r.kind == "app"]
    directs = [r for r in runs if r.kind == "direct"]
    app_rtf = statistics.median(r.rtf for r in apps)
    direct_rtf = statistics.median(r.rtf for r in directs)
    ratio = app_rtf / direct_rtf if direct_rtf else 0.0
    steady_app = [r.steady_rtf for r in apps if r.steady_rtf]
    steady_direct = [r.steady_rtf for r in directs if r.steady_rtf]
    steady_ratio = (
        statistics.median(steady_app) / statistics.median(steady_direct) if steady_app and steady_direct else None
    )
    # Pairs in run order: (app, direct), (direct, app), ...
    pairs = [runs[i : i + 2] for i in range(0, len(runs) - 1, 2)]
    per_pair = [
        next(r for r in pair if r.kind == "app").rtf / next(r for r in pair if r.kind == "direct").rtf
        for pair in pairs
        if {r.kind for r in pair} == {"app", "direct"}
    ]
    verdicts = Verdicts()
    verdicts.check("ratio app/direct (median real-time factor)", ratio, TARGET_RATIO, unit="", higher_is_better=True)
    lost = [r for r in runs if r.kind == "app" and (r.media_out_s is None or r.media_out_s < media_s - 0.5)]
    for r in lost:
        line = (
            f"FAIL  {r.kind} #{runs.index(r) + 1}: the output holds {r.media_out_s} s of the {media_s:g} s published"
            + (f" (the server received {r.media_received_s} s)" if r.media_received_s is not None else "")
        )
        verdicts.lines.append(line)
        verdicts.failures.append(line.removeprefix("FAIL  "))
    if not lost:
        verdicts.lines.append(f"PASS  every run's output holds the {media_s:g} s published")
    rows = [
        [
            f"{r.kind} #{i + 1}",
            f"{r.wall_s:.2f}",
            f"{r.rtf:.3f}",
            f"{r.first_listed_s:.2f}" if r.first_listed_s is not None else "n/a",
            f"{r.steady_rtf:.3f}" if r.steady_rtf else "n/a",
            f"{r.input_done_s:.2f}" if r.input_done_s is not None else "-",
            str(r.media_received_s) if r.media_received_s is not None else "-",
            str(r.media_out_s),
        ]
        for i, r in enumerate(runs)
    ]
    table = format_table(
        [
            "run (in order)",
            "wall s",
            "RTF",
            "first seg s",
            "RTF after 1st seg",
            "input read s",
            "media in s",
            "media out s",
        ],
        rows,
    )
    report = "\n".join(
        [
            f"{NAME}: {DESCRIPTION}",
            f"source: {media_s:g} s of 1280x720 30 fps x264 {SOURCE_KBPS}k + AAC, {size / 1e6:.1f} MB FLV; "
            f"ladder {', '.join(ladder)}",
            "",
            table,
            "",
            "RTF: media seconds in the finished HLS output per wall second, spawn to the transcoder's exit; "
            "media in: the last tag the server fed to ffmpeg. A direct run reads as much of the file as the app "
            "run before it delivered.",
            f"median RTF: app {app_rtf:.3f}x, direct {direct_rtf:.3f}x; ratio app/direct {ratio:.3f}"
            + (f"; after the first segment {steady_ratio:.3f}" if steady_ratio else ""),
            f"per pair (run order): {', '.join(f'{r:.3f}' for r in per_pair)}",
            *verdicts.lines,
            machine_line(machine),
        ]
    )
    data: dict[str, Any] = {
        "description": DESCRIPTION,
        "date": now_utc(),
        "quick": options.quick,
        "options": {"media_seconds": media_s, "rounds": len(apps), "source_kbps": SOURCE_KBPS},
        "source_bytes": size,
        "ladder": ladder,
        "transcoder_command": command,
        "ratio": round(ratio, 4),
        "steady_ratio": None if steady_ratio is None else round(steady_ratio, 4),
        "ratio_per_pair": [round(r, 4) for r in per_pair],
        "median_rtf": {"app": round(app_rtf, 4), "direct": round(direct_rtf, 4)},
        "target_ratio": TARGET_RATIO,
        "checks": verdicts.checks,
        "machine": machine,
        "versions": {"ffmpeg": ffmpeg_version(), **package_versions("uvloop", "imageio-ffmpeg")},
        "source": source_state(),
        "runs": [r.to_json() for r in runs],
    }
    return BenchResult(name=NAME, ok=not verdicts.failures, report=report, data=data, failures=verdicts.failures)
