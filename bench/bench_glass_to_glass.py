"""Glass-to-glass latency in Chromium: the watch page (``/watch/{stream_id}?bench=1``, which exposes
``window.__lsPlayer.playingDate()``, hls.js's ``playingDate``) plays a live stream while a synthetic 720p30 source
is published over RTMP in real time (``LS_TRANSCODE=abr``, the default). Every 500 ms, for a fixed time after
playback starts, ``Date.now() - playingDate``: how far behind the wall clock the frame on screen is, by the
segment's EXT-X-PROGRAM-DATE-TIME.

That figure is only as good as the PROGRAM-DATE-TIME. ffmpeg stamps it from its own clock when its HLS muxer
starts, which is not when the media entered the server; so the server runs in this process (uvicorn, on
127.0.0.1) and the benchmark also maps every sample's playingDate back to the media time on screen and to the
wall time that frame arrived at the RTMP server: the latency from ingest, whatever ffmpeg stamped.

Baseline, same run: the same page, the same Chromium, playing HLS that ffmpeg writes directly from the same
synthetic source with the same ladder and HLS arguments (no RTMP, no pipe); the watch page's stream API answer
and its /hls/ requests are answered by the benchmark (Playwright routes) from that ffmpeg's folder.

If the web app does not expose ``window.__lsPlayer`` (an older build), both are played by a small page driving
hls.js with the player settings of web/src/player/LivePlayer.tsx, served by the benchmark on the same origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import (
    ROOT,
    BenchError,
    BenchResult,
    Options,
    format_table,
    free_port,
    machine_info,
    machine_line,
    now_utc,
    package_versions,
    progress,
)
from bench.media_support import (
    ArrivalLog,
    LiveApp,
    PlaylistWatcher,
    Processes,
    ProgressClock,
    Verdicts,
    collect_arrivals,
    direct_from_source,
    ffmpeg_version,
    ingest_time_of,
    make_creator,
    percentile,
    prepare_out_dir,
    publisher_synthetic,
    rtmp_url,
    run_async,
    source_state,
    wait_until,
)

NAME = "glass_to_glass"
DESCRIPTION = (
    "Chromium watch page, Date.now() - hls.js playingDate every 500 ms (abr, RTMP publish in real time) "
    "vs the same page playing ffmpeg's direct HLS"
)
TARGET_MEDIAN_S = 4.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
WEB_DIST = ROOT / "web" / "dist"
HLS_JS = ROOT / "web" / "node_modules" / "hls.js" / "dist" / "hls.min.js"
SAMPLE_EVERY_S = 0.5
PRODUCER_BOUND_S = 120
# Set BENCH_G2G_PAGE=fallback to use the benchmark's own hls.js page even when the watch page has the probe.
FORCE_FALLBACK = os.environ.get("BENCH_G2G_PAGE") == "fallback"

# web/src/player/LivePlayer.tsx: PLAYER_CONFIG and the LEVEL_UPDATED tuning (two segments behind the edge).
FALLBACK_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>bench player</title></head>
<body style="margin:0;background:#000">
<video id="v" muted playsinline style="width:960px;height:540px"></video>
<script src="/__bench/hls.min.js"></script>
<script>
const SYNC_SEGMENTS = 2, MAX_LATENCY_SEGMENTS = 6, DEFAULT_SEGMENT_S = 1;
const video = document.getElementById("v");
const hls = new Hls({
  lowLatencyMode: true,
  liveSyncDuration: SYNC_SEGMENTS * DEFAULT_SEGMENT_S,
  liveMaxLatencyDuration: MAX_LATENCY_SEGMENTS * DEFAULT_SEGMENT_S,
  maxLiveSyncPlaybackRate: 1.5,
  backBufferLength: 30,
  enableWorker: true,
  capLevelToPlayerSize: false,
});
let tuned = false;
hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
hls.on(Hls.Events.LEVEL_UPDATED, (_e, { details }) => {
  if (tuned || !details.live || !(details.targetduration > 0)) return;
  tuned = true;
  hls.config.liveMaxLatencyDuration = MAX_LATENCY_SEGMENTS * details.targetduration;
  hls.targetLatency = SYNC_SEGMENTS * details.targetduration;
});
hls.attachMedia(video);
hls.loadSource(new URLSearchParams(location.search).get("src"));
window.__lsPlayer = {
  playingDate: () => (hls.playingDate ? hls.playingDate.getTime() : null),
  latency: () => hls.latency,
};
</script></body></html>
"""

# Media events do not bubble, but a capturing listener on the document sees them.
INIT_SCRIPT = """
window.__benchWaiting = 0;
document.addEventListener("waiting", () => { window.__benchWaiting += 1; }, true);
"""

SAMPLE_JS = """() => {
  const p = window.__lsPlayer;
  const v = document.querySelector("video");
  if (!p || !v) return null;
  return {
    now: Date.now(),
    date: p.playingDate(),
    latency: p.latency(),
    t: v.currentTime,
    paused: v.paused,
    ready: v.readyState,
    waiting: window.__benchWaiting || 0,
    height: v.videoHeight,
  };
}"""


@dataclass
class Playback:
    label: str
    page: str = ""  # "watch page" or "bench page"
    samples: list[dict[str, Any]] = field(default_factory=list)
    start_after_load_s: float | None = None
    from_ingest: list[float] = field(default_factory=list)  # now - when the frame on screen entered
    pdt_offsets: list[float] = field(default_factory=list)  # PDT - when the segment's first frame entered
    stalls: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def by_pdt(self) -> list[float]:
        return [(s["now"] - s["date"]) / 1000 for s in self.samples if s.get("date")]

    def stats(self, values: list[float]) -> dict[str, float | None]:
        if not values:
            return {"n": 0, "p50": None, "p95": None}
        return {
            "n": len(values),
            "p50": round(statistics.median(values), 3),
            "p95": round(percentile(values, 0.95), 3),
            "min": round(min(values), 3),
            "max": round(max(values), 3),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "page": self.page,
            "playback_start_after_load_s": self.start_after_load_s,
            "now_minus_playing_date_s": self.stats(self.by_pdt),
            "now_minus_ingest_s": self.stats(self.from_ingest),
            "pdt_minus_ingest_s": self.stats(self.pdt_offsets),
            "stalls": self.stalls,
            "errors": self.errors[:20],
            "samples": self.samples,
        }


def _media_time(watcher: PlaylistWatcher, date_s: float) -> float | None:
    """The media time (from the first video frame) on screen, from hls.js's playingDate and the playlist's PDTs."""
    for _seq, start, duration, pdt, _listed in watcher.segments():
        if pdt is not None and pdt - 0.0005 <= date_s < pdt + duration:
            return start + (date_s - pdt)
    return None


async def _play(page: Any, url: str, playback: Playback, sample_s: float, *, need_probe_s: float = 20.0) -> bool:
    """Open ``url`` and sample until ``sample_s`` after playback starts. False when the page has no probe."""
    loaded = time.monotonic()
    await page.goto(url, wait_until="domcontentloaded")
    deadline = loaded + 45
    probe_deadline = loaded + need_probe_s
    while True:
        sample = await page.evaluate(SAMPLE_JS)
        if sample is None and time.monotonic() > probe_deadline:
            return False
        if sample and sample["date"] and sample["t"] > 0 and not sample["paused"]:
            break
        if time.monotonic() > deadline:
            raise BenchError(f"{playback.label}: playback did not start within 45 s (last sample {sample})")
        await asyncio.sleep(0.1)
    playback.start_after_load_s = round(time.monotonic() - loaded, 3)
    first_waiting = sample["waiting"]
    end = time.monotonic() + sample_s
    next_at = time.monotonic()
    while time.monotonic() < end:
        sample = await page.evaluate(SAMPLE_JS)
        if sample:
            playback.samples.append(sample)
        next_at += SAMPLE_EVERY_S
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    playback.stalls = max(0, (playback.samples[-1]["waiting"] if playback.samples else 0) - first_waiting)
    return True


def _served_file(folder: Path, name: str) -> tuple[bytes, dict[str, str]] | None:
    """A playlist or segment of the direct ffmpeg's folder, with the headers our origin gives it."""
    path = (folder / name).resolve()
    if folder.resolve() not in path.parents or not path.is_file():
        return None
    kind = "application/vnd.apple.mpegurl" if path.suffix == ".m3u8" else "video/mp2t"
    cache = "no-cache" if path.suffix == ".m3u8" else "public, max-age=31536000, immutable"
    try:
        return path.read_bytes(), {"Content-Type": kind, "Cache-Control": cache}
    except OSError:
        return None


async def _route_files(route: Any, folder: Path, prefix: str) -> None:
    found = await asyncio.to_thread(_served_file, folder, route.request.url.split("?", 1)[0][len(prefix) :])
    if found is None:
        await route.fulfill(status=404, body="not found")
    else:
        await route.fulfill(status=200, body=found[0], headers=found[1])


async def _fallback_routes(page: Any, base: str) -> None:
    hls_js = await asyncio.to_thread(HLS_JS.read_bytes)

    async def serve(route: Any) -> None:
        if route.request.url.split("?", 1)[0].endswith("/hls.min.js"):
            await route.fulfill(status=200, body=hls_js, headers={"Content-Type": "text/javascript"})
        else:
            await route.fulfill(status=200, body=FALLBACK_PAGE, headers={"Content-Type": "text/html"})

    await page.route(f"{base}/__bench/**", serve)


async def _measure(workdir: Path, procs: Processes, sample_s: float) -> tuple[Playback, Playback, dict[str, Any]]:
    from playwright.async_api import async_playwright

    from livestream.migrate import upgrade_async

    database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await upgrade_async(database_url)
    info: dict[str, Any] = {}
    app_play = Playback("app: RTMP -> server -> ffmpeg ladder -> origin")
    direct_play = Playback("direct: ffmpeg ladder from the source")
    use_fallback = FORCE_FALLBACK or not (WEB_DIST / "index.html").is_file()
    async with (
        LiveApp(
            workdir,
            transcode="abr",
            database_url=database_url,
            secret=secrets.token_urlsafe(36),
            name="g2g",
            http_port=free_port(),
            web_dist=WEB_DIST,
            # The web app's anonymous token refresh answers 401, which the server logs as a warning.
            log_level="ERROR",
        ) as app,
        async_playwright() as pw,
    ):
        base = app.base_url
        creator = await make_creator(app.client, "g2g")
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # --- the app ---------------------------------------------------------------------------------
            publisher = procs.spawn(
                "publisher", publisher_synthetic(rtmp_url(app.rtmp_port, creator.key), PRODUCER_BOUND_S)
            )
            log = ArrivalLog()
            stop = asyncio.Event()
            collector = asyncio.create_task(collect_arrivals(app, creator.user_id, log, stop))
            pipeline: Any = None
            watcher: PlaylistWatcher | None = None
            try:

                async def transcoding() -> Any:
                    if not publisher.running():
                        raise BenchError(f"the publisher exited: {publisher.log_tail()}")
                    pipeline = app.pipeline_for_user(creator.user_id)
                    return pipeline if pipeline is not None and pipeline.renditions else None

                pipeline = await wait_until(transcoding, 30, "the transcoder")
                sid = str(pipeline.stream_id)
                watcher = PlaylistWatcher(pipeline.out_dir, len(pipeline.renditions)).start()
                app_watcher = watcher

                async def live() -> bool:
                    stream = await app.live_stream(creator.user_id)
                    return bool(stream and stream["media_state"] == "live" and app_watcher.playable_at)

                await wait_until(live, 40, "the stream to be live with a complete master playlist")
                progress(f"  app stream live; opening the watch page in Chromium, {sample_s:g} s of samples")
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                await page.add_init_script(INIT_SCRIPT)
                page.on("pageerror", lambda e: app_play.errors.append(str(e)))
                if not use_fallback:
                    app_play.page = "watch page"
                    if not await _play(page, f"{base}/watch/{sid}?bench=1", app_play, sample_s):
                        progress("  the watch page has no window.__lsPlayer: using the benchmark's hls.js page")
                        use_fallback = True
                if use_fallback:
                    app_play.page = "bench page (hls.js, LivePlayer settings)"
                    await _fallback_routes(page, base)
                    src = f"{base}/hls/{sid}/master.m3u8"
                    if not await _play(page, f"{base}/__bench/player.html?src={src}", app_play, sample_s):
                        raise BenchError("the benchmark's own page has no probe")
                await page.close()
            finally:
                stop.set()
                await collector
                procs.stop(publisher)
                if pipeline is not None:
                    with contextlib.suppress(Exception):
                        await app.end_stream(creator, str(pipeline.stream_id))
                if watcher is not None:
                    watcher.stop()
            transcoder = pipeline.transcoder
            frames = log.sorted_frames()
            # The origin serves ffmpeg's PROGRAM-DATE-TIMEs moved onto the ingest clock; the watcher reads the
            # files on disk, so map the player's dates back by the same offset.
            served_offset = pipeline.pdt_offset_s or 0.0
            info["served_pdt_offset_s"] = round(served_offset, 3)
            for sample in app_play.samples:
                if sample.get("date"):
                    media = _media_time(watcher, sample["date"] / 1000 - served_offset)
                    entered = ingest_time_of(frames, media) if media is not None else None
                    if entered is not None:
                        app_play.from_ingest.append(sample["now"] / 1000 - entered)
            for _seq, start, _d, pdt, _l in watcher.segments():
                entered = ingest_time_of(frames, start)
                if pdt is not None and entered is not None:
                    app_play.pdt_offsets.append(pdt + served_offset - entered)
            info["ladder"] = [f"{r.name} {r.width}x{r.height}" for r in transcoder.ladder]
            info["connect_wall"] = log.connect_wall

            # --- the baseline: ffmpeg directly, the same page -------------------------------------------------
            out = workdir / "direct"
            prepare_out_dir(out, len(transcoder.ladder))
            command = direct_from_source(transcoder.source, transcoder.ladder, out, seconds=PRODUCER_BOUND_S)
            direct = procs.spawn("direct", command, stdout_pipe=True)
            clock = ProgressClock(direct)
            dwatch = PlaylistWatcher(out, len(transcoder.ladder)).start()
            try:
                await asyncio.to_thread(dwatch.wait_ready, 40, direct.running)
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                await page.add_init_script(INIT_SCRIPT)
                page.on("pageerror", lambda e: direct_play.errors.append(str(e)))
                await page.route(f"{base}/hls/{sid}/**", lambda r: _route_files(r, out, f"{base}/hls/{sid}/"))
                hls_url = f"{base}/hls/{sid}/master.m3u8"

                async def stream_answer(route: Any) -> None:
                    # The stream has ended; the page must see it live, with its HLS where the route serves ffmpeg's.
                    response = await route.fetch()
                    body = await response.json()
                    body.update(status="live", media_state="live", hls_url=hls_url, ended_at=None)
                    await route.fulfill(response=response, body=json.dumps(body))

                await page.route(f"{base}/api/streams/{sid}", stream_answer)
                progress(f"  direct ffmpeg HLS ready; the same page, {sample_s:g} s of samples")
                if use_fallback:
                    direct_play.page = "bench page (hls.js, LivePlayer settings)"
                    await _fallback_routes(page, base)
                    played = await _play(page, f"{base}/__bench/player.html?src={hls_url}", direct_play, sample_s)
                else:
                    direct_play.page = "watch page"
                    played = await _play(page, f"{base}/watch/{sid}?bench=1", direct_play, sample_s)
                if not played:
                    raise BenchError("the baseline page has no probe")
                await page.close()
            finally:
                procs.stop(direct)
                clock.join()
                dwatch.stop()
            if clock.start_estimate is not None:
                for sample in direct_play.samples:
                    if sample.get("date"):
                        media = _media_time(dwatch, sample["date"] / 1000)
                        if media is not None:
                            direct_play.from_ingest.append(sample["now"] / 1000 - (clock.start_estimate + media))
                for _seq, start, _d, pdt, _l in dwatch.segments():
                    if pdt is not None:
                        direct_play.pdt_offsets.append(pdt - (clock.start_estimate + start))
        finally:
            await browser.close()
    return app_play, direct_play, info


def run(options: Options) -> BenchResult:
    sample_s = 2.0 if options.quick else 15.0
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="bench-glass-to-glass-") as tmp:
        workdir = Path(tmp)
        with Processes(workdir) as procs:
            app_play, direct_play, info = run_async(_measure(workdir, procs, sample_s))
    machine["load_average_after"] = machine_info()["load_average"]
    return _result(app_play, direct_play, info, options, machine, sample_s)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _result(
    app: Playback,
    direct: Playback,
    info: dict[str, Any],
    options: Options,
    machine: dict[str, Any],
    sample_s: float,
) -> BenchResult:
    verdicts = Verdicts()
    app_pdt, direct_pdt = app.stats(app.by_pdt), direct.stats(direct.by_pdt)
    app_in, direct_in = app.stats(app.from_ingest), direct.stats(direct.from_ingest)
    verdicts.check("app: median Date.now() - playingDate", app_pdt["p50"], TARGET_MEDIAN_S, unit=" s")
    verdicts.check(
        "app: median latency from ingest (frame on screen vs its RTMP arrival)",
        app_in["p50"],
        TARGET_MEDIAN_S,
        unit=" s",
    )
    rows = []
    for p, by_pdt, by_in in ((app, app_pdt, app_in), (direct, direct_pdt, direct_in)):
        offsets = p.stats(p.pdt_offsets)
        heights = sorted({s.get("height") for s in p.samples if s.get("height")})
        rows.append(
            [
                p.label,
                str(by_pdt["n"]),
                _fmt(by_pdt["p50"]),
                _fmt(by_pdt["p95"]),
                _fmt(by_in["p50"]),
                _fmt(by_in["p95"]),
                _fmt(offsets["p50"]),
                str(p.stalls),
                _fmt(p.start_after_load_s),
                "/".join(f"{h}p" for h in heights) or "?",
            ]
        )
    ratio = app_pdt["p50"] / direct_pdt["p50"] if app_pdt["p50"] and direct_pdt["p50"] else None
    ratio_in = app_in["p50"] / direct_in["p50"] if app_in["p50"] and direct_in["p50"] else None
    for p in (app, direct):
        if p.errors:
            verdicts.lines.append(f"note: {p.label}: page errors {p.errors[:3]}")
    report = "\n".join(
        [
            f"{NAME}: {DESCRIPTION}",
            f"page: {app.page}; {sample_s:g} s of samples every {SAMPLE_EVERY_S:g} s after playback started; "
            f"ladder {', '.join(info.get('ladder', []))}",
            "",
            format_table(
                [
                    "stream",
                    "samples",
                    "now-PDT p50 s",
                    "p95 s",
                    "from ingest p50 s",
                    "p95 s",
                    "PDT-in s",
                    "stalls",
                    "start s",
                    "played",
                ],
                rows,
            ),
            "",
            "now-PDT: Date.now() - hls.js playingDate (by EXT-X-PROGRAM-DATE-TIME). from ingest: Date.now() minus "
            "the wall time the frame on screen entered (its RTMP arrival; the -re clock for direct ffmpeg). "
            "PDT-in: PROGRAM-DATE-TIME minus that entry time (how late ffmpeg stamps). start: page load to playback.",
            f"ratio app/direct (median now-PDT): {_fmt(ratio)}; (median from ingest): {_fmt(ratio_in)}",
            *verdicts.lines,
            machine_line(machine),
        ]
    )
    data: dict[str, Any] = {
        "description": DESCRIPTION,
        "date": now_utc(),
        "quick": options.quick,
        "options": {"sample_seconds": sample_s, "sample_every_s": SAMPLE_EVERY_S, "chromium_args": CHROMIUM_ARGS},
        "target_median_s": TARGET_MEDIAN_S,
        "checks": verdicts.checks,
        "ratio_now_minus_pdt": None if ratio is None else round(ratio, 3),
        "ratio_from_ingest": None if ratio_in is None else round(ratio_in, 3),
        "app": app.to_json(),
        "direct": direct.to_json(),
        "info": info,
        "machine": machine,
        "versions": {"ffmpeg": ffmpeg_version(), **package_versions("playwright", "uvicorn", "uvloop")},
        "source": source_state(),
    }
    return BenchResult(name=NAME, ok=not verdicts.failures, report=report, data=data, failures=verdicts.failures)
