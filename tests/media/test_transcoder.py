"""The transcoder against the real ffmpeg: HLS ladder, recording, thumbnail, stats, failures, a quiet pipe."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from livestream.media.ffmpeg import LineSplitter, build_command, choose_preset, default_ffmpeg, gop_frames
from livestream.media.ladder import SourceInfo, build_ladder
from livestream.media.progress import ProgressParser, TranscoderStats
from livestream.media.transcoder import Transcoder, TranscoderError

FFMPEG = default_ffmpeg()
SOURCE_SECONDS = 6.0
SOURCE = SourceInfo(width=1280, height=720, fps=30, video_bitrate_kbps=None, audio=True)
CHUNK = 32 * 1024


# --- helpers ---------------------------------------------------------------------------------------------------


def run_ffmpeg(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def make_source(path: Path, *, size: str = "1280x720", seconds: float = SOURCE_SECONDS, audio: bool = True) -> bytes:
    sound = ["-f", "lavfi", "-i", "sine", "-c:a", "aac"] if audio else []
    done = run_ffmpeg(
        "-v", "error", "-y",
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30", *sound,
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
        "-t", str(seconds), "-f", "flv", str(path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return path.read_bytes()


async def feed(transcoder: Transcoder, data: bytes, *, speed: float | None = None) -> None:
    """Write ``data`` in chunks, paced at ``speed`` times real time (None: as fast as ffmpeg takes it)."""
    started = time.monotonic()
    for offset in range(0, len(data), CHUNK):
        await transcoder.write(data[offset : offset + CHUNK])
        if speed:
            due = started + (offset + CHUNK) / len(data) * SOURCE_SECONDS / speed
            await asyncio.sleep(max(0.0, due - time.monotonic()))


def segments(playlist: Path) -> list[tuple[float, str]]:
    found: list[tuple[float, str]] = []
    duration = 0.0
    for line in playlist.read_text().splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[8:].split(",")[0])
        elif line and not line.startswith("#"):
            found.append((duration, line))
    return found


def stream_infs(master: str) -> list[tuple[dict[str, str], str]]:
    lines = master.splitlines()
    out: list[tuple[dict[str, str], str]] = []
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]))
            out.append(({k: v.strip('"') for k, v in attrs.items()}, lines[i + 1]))
    return out


def duration_of(path: Path) -> float:
    """Decode the whole file; the media time reached is its duration."""
    done = run_ffmpeg("-v", "error", "-i", str(path), "-f", "null", "-progress", "pipe:1", "-")
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    times = [int(v) for v in re.findall(r"^out_time_us=(\d+)$", done.stdout, re.M)]
    return max(times) / 1e6


def first_frame_is_key(segment: Path) -> bool:
    done = run_ffmpeg("-i", str(segment), "-map", "0:v:0", "-frames:v", "1", "-vf", "showinfo", "-f", "null", "-")
    assert done.returncode == 0, done.stderr
    info = [line for line in done.stderr.splitlines() if "Parsed_showinfo" in line and " n:" in line]
    assert info, done.stderr
    return "iskey:1" in info[0] and "type:I" in info[0]


def video_codec_line(path: Path) -> str:
    done = run_ffmpeg("-i", str(path))
    return next(line for line in done.stderr.splitlines() if "Video:" in line)


async def read_when_there(path: Path) -> bytes:
    async with asyncio.timeout(10):
        while True:
            with contextlib.suppress(FileNotFoundError):
                return await asyncio.to_thread(path.read_bytes)
            await asyncio.sleep(0.02)


def ts_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.ts"))


@dataclass
class Reads:
    """What a viewer polling the files saw: reads caught half-written, and each file's inodes."""

    passes: int = 0
    torn: list[str] = field(default_factory=list)
    inodes: dict[str, set[int]] = field(default_factory=dict)


def read_like_a_viewer(out_dir: Path, variants: int, reads: Reads) -> None:
    playlists = [out_dir / "master.m3u8", *(out_dir / f"v{i}" / "index.m3u8" for i in range(variants))]
    for path in [*playlists, out_dir / "thumbnail.jpg"]:
        try:
            with path.open("rb") as file:
                inode = os.fstat(file.fileno()).st_ino
                data = file.read()
        except FileNotFoundError:
            continue
        reads.inodes.setdefault(path.relative_to(out_dir).as_posix(), set()).add(inode)
        whole = (
            data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
            if path.suffix == ".jpg"
            else data.startswith(b"#EXTM3U") and data.endswith(b"\n")
        )
        if not whole:
            reads.torn.append(f"{path.name}: {data[:40]!r}…{data[-20:]!r}")
    reads.passes += 1


async def watch_like_a_viewer(out_dir: Path, variants: int) -> Reads:
    """Read the viewer-facing files every few milliseconds until cancelled.

    A torn read is unlikely to be caught even without protection (ffmpeg writes these small files in one go),
    so the inodes tell more: a file replaced by a rename gets a new inode each time, one rewritten in place
    keeps its own.
    """
    reads = Reads()
    with contextlib.suppress(asyncio.CancelledError):
        while True:
            await asyncio.to_thread(read_like_a_viewer, out_dir, variants, reads)
            await asyncio.sleep(0.005)
    return reads


@pytest.fixture(scope="module")
def source_flv(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_source(tmp_path_factory.mktemp("source") / "src.flv")


# --- one ABR run shared by the tests that inspect its output ------------------------------------------------------


@dataclass
class AbrRun:
    out_dir: Path
    recording: Path
    ladder_heights: list[int]
    live_master: str
    live_playlists: list[str]
    live_stats: TranscoderStats
    first_playlist_after: float
    final_stats: TranscoderStats
    returncode: int | None
    reads: Reads


@pytest.fixture(scope="module")
def abr_run(tmp_path_factory: pytest.TempPathFactory, source_flv: bytes) -> AbrRun:
    out_dir = tmp_path_factory.mktemp("abr") / "live" / "stream"
    recording = out_dir.parent.parent / "recordings" / "part-001.ts"

    async def run() -> AbrRun:
        ladder = build_ladder(SOURCE, "abr")
        transcoder = Transcoder(FFMPEG, SOURCE, ladder, out_dir, recording, segment_seconds=1, thumbnail_interval=10)
        watcher = asyncio.create_task(watch_like_a_viewer(out_dir, len(ladder)))
        async with transcoder:
            started = time.monotonic()
            feeding = asyncio.create_task(feed(transcoder, source_flv, speed=2.0))
            ready_at = await transcoder.wait_first_playlist(timeout=30)
            live_master = transcoder.master_playlist.read_text()
            live_playlists = [p.read_text() for p in transcoder.variant_playlists]
            await feeding
            live_stats = transcoder.stats
            await transcoder.finish(timeout=30)
            watcher.cancel()
            return AbrRun(
                out_dir=out_dir,
                recording=recording,
                ladder_heights=[r.height for r in ladder],
                live_master=live_master,
                live_playlists=live_playlists,
                live_stats=live_stats,
                first_playlist_after=ready_at - started,
                final_stats=transcoder.stats,
                returncode=transcoder.returncode,
                reads=await watcher,
            )

    return asyncio.run(asyncio.wait_for(run(), 60))


def test_abr_finishes_cleanly_and_first_playlist_comes_quickly(abr_run: AbrRun) -> None:
    assert abr_run.returncode == 0
    assert abr_run.first_playlist_after < 10


def test_master_lists_only_renditions_at_or_below_the_source(abr_run: AbrRun) -> None:
    assert abr_run.ladder_heights == [720, 480, 360]
    for text in (abr_run.live_master, (abr_run.out_dir / "master.m3u8").read_text()):
        infs = stream_infs(text)
        assert [uri for _attrs, uri in infs] == ["v0/index.m3u8", "v1/index.m3u8", "v2/index.m3u8"]
        assert [attrs["RESOLUTION"] for attrs, _uri in infs] == ["1280x720", "854x480", "640x360"]
        bandwidths = [int(attrs["BANDWIDTH"]) for attrs, _uri in infs]
        assert bandwidths == sorted(bandwidths, reverse=True)
        assert bandwidths[-1] > 500_000
        for attrs, _uri in infs:
            assert re.fullmatch(r"avc1\.64[0-9a-f]{4},mp4a\.40\.2", attrs["CODECS"]), attrs


def test_every_segment_decodes_and_starts_with_a_keyframe(abr_run: AbrRun) -> None:
    for index in range(3):
        playlist = abr_run.out_dir / f"v{index}" / "index.m3u8"
        listed = segments(playlist)
        assert len(listed) >= 5
        for _duration, name in listed:
            segment = playlist.parent / name
            done = run_ffmpeg("-v", "error", "-i", str(segment), "-f", "null", "-")
            assert done.returncode == 0
            assert done.stderr == "", f"{segment}: {done.stderr}"
            assert first_frame_is_key(segment), segment


def test_segments_line_up_across_renditions(abr_run: AbrRun) -> None:
    ladder = [segments(abr_run.out_dir / f"v{i}" / "index.m3u8") for i in range(3)]
    assert ladder[0] == ladder[1] == ladder[2]
    # Keyframes every segment_seconds: all full segments are one second long.
    assert all(abs(duration - 1.0) < 0.05 for duration, _name in ladder[0][:-1])


def test_playlists_carry_program_date_time_live_and_endlist_after_finish(abr_run: AbrRun) -> None:
    for text in abr_run.live_playlists:
        assert "#EXT-X-PROGRAM-DATE-TIME:" in text
        assert "#EXT-X-INDEPENDENT-SEGMENTS" in text
        assert "#EXT-X-ENDLIST" not in text
    for index in range(3):
        text = (abr_run.out_dir / f"v{index}" / "index.m3u8").read_text()
        assert "#EXT-X-PROGRAM-DATE-TIME:" in text
        assert text.rstrip().endswith("#EXT-X-ENDLIST")
    leftovers = [p.name for p in abr_run.out_dir.rglob("*.tmp")]
    assert leftovers == []


def test_playlists_are_replaced_whole_never_rewritten_in_place(abr_run: AbrRun) -> None:
    reads = abr_run.reads
    assert reads.passes > 100
    assert reads.torn == []
    for index in range(3):
        assert len(reads.inodes[f"v{index}/index.m3u8"]) > 3
    assert len(reads.inodes["master.m3u8"]) >= 2  # the live one, the final one


def test_recording_is_the_whole_source(abr_run: AbrRun) -> None:
    assert abs(duration_of(abr_run.recording) - SOURCE_SECONDS) < 0.3
    # A stream copy: the source's own profile, not the ladder's.
    assert "Constrained Baseline" in video_codec_line(abr_run.recording)
    assert "1280x720" in video_codec_line(abr_run.recording)


def test_thumbnail_is_a_whole_jpeg_480_wide(abr_run: AbrRun) -> None:
    data = (abr_run.out_dir / "thumbnail.jpg").read_bytes()
    assert data[:2] == b"\xff\xd8"
    assert data[-2:] == b"\xff\xd9"
    assert "480x270" in video_codec_line(abr_run.out_dir / "thumbnail.jpg")


def test_progress_stats_are_live_and_final(abr_run: AbrRun) -> None:
    live = abr_run.live_stats
    assert live.frame > 0
    assert live.out_time_s > 0
    assert live.bitrate_kbps > 0
    assert live.updated_at is not None
    final = abr_run.final_stats
    assert final.ended
    assert final.frame == 180
    assert abs(final.out_time_s - SOURCE_SECONDS) < 0.3
    assert final.fps > 0
    assert final.speed > 0
    # The first output is the recording: the bitrate is what the publisher sends.
    assert 5000 < final.bitrate_kbps < 12000


# --- passthrough -------------------------------------------------------------------------------------------------


async def test_passthrough_copies_the_source_into_one_rendition(tmp_path: Path, source_flv: bytes) -> None:
    ladder = build_ladder(SOURCE, "passthrough")
    watcher = asyncio.create_task(watch_like_a_viewer(tmp_path / "live", 1))
    async with Transcoder(FFMPEG, SOURCE, ladder, tmp_path / "live", tmp_path / "rec.ts", 1, 2) as transcoder:
        feeding = asyncio.create_task(feed(transcoder, source_flv, speed=3.0))
        await transcoder.wait_first_playlist(timeout=20)
        (attrs, uri), *more = stream_infs(transcoder.master_playlist.read_text())
        first_thumbnail = await read_when_there(transcoder.thumbnail_path)
        await feeding
        await transcoder.finish(timeout=20)
    watcher.cancel()
    reads = await watcher

    assert more == []
    assert uri == "v0/index.m3u8"
    assert attrs["RESOLUTION"] == "1280x720"
    # Constrained Baseline: the source's own stream, copied.
    assert attrs["CODECS"].startswith("avc1.42")
    # ffmpeg alone would declare only the audio here (no bitrate in the FLV metadata); corrected from the segments.
    assert int(attrs["BANDWIDTH"]) > 3_000_000
    assert transcoder.command.count("copy") == 2
    assert "libx264" not in transcoder.command
    listed = segments(tmp_path / "live" / "v0" / "index.m3u8")
    assert listed
    segment = tmp_path / "live" / "v0" / listed[0][1]
    assert "Constrained Baseline" in video_codec_line(segment)
    assert "1280x720" in video_codec_line(segment)
    # A thumbnail every two seconds of video, each one swapped in whole.
    last_thumbnail = (tmp_path / "live" / "thumbnail.jpg").read_bytes()
    assert last_thumbnail[:2] == b"\xff\xd8"
    assert last_thumbnail != first_thumbnail
    assert reads.torn == []
    assert len(reads.inodes["thumbnail.jpg"]) >= 2
    assert abs(duration_of(tmp_path / "rec.ts") - SOURCE_SECONDS) < 0.3


# --- a quiet pipe (publisher reconnecting) ------------------------------------------------------------------------


async def test_a_pause_in_the_input_keeps_the_same_process_and_one_recording(tmp_path: Path, source_flv: bytes) -> None:
    recording = tmp_path / "rec.ts"
    ladder = build_ladder(SOURCE, "abr")[-1:]  # 360p only: cheap
    async with Transcoder(FFMPEG, SOURCE, ladder, tmp_path / "live", recording, 1, 10) as transcoder:
        half = len(source_flv) // 2
        await feed(transcoder, source_flv[:half])
        await transcoder.wait_first_playlist(timeout=20)
        pid = transcoder.pid
        frames_before = transcoder.stats.frame
        await asyncio.sleep(5)
        assert transcoder.running
        assert transcoder.returncode is None
        await feed(transcoder, source_flv[half:])
        await transcoder.finish(timeout=20)

    assert transcoder.pid == pid
    assert transcoder.returncode == 0
    assert transcoder.stats.frame > frames_before
    assert abs(duration_of(recording) - SOURCE_SECONDS) < 0.3
    assert ts_files(tmp_path) == [recording]
    assert (tmp_path / "live" / "v0" / "index.m3u8").read_text().rstrip().endswith("#EXT-X-ENDLIST")


# --- failures -----------------------------------------------------------------------------------------------------


FLV_HEADER = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"


async def write_garbage_until_refused(transcoder: Transcoder, header: bytes) -> None:
    async with asyncio.timeout(20):
        await transcoder.write(header)
        while True:
            await transcoder.write(os.urandom(CHUNK))


async def test_input_that_is_not_flv_is_refused_at_once(tmp_path: Path) -> None:
    async with Transcoder(FFMPEG, SOURCE, build_ladder(SOURCE), tmp_path / "live", tmp_path / "rec.ts") as transcoder:
        waiting = asyncio.create_task(transcoder.wait_first_playlist(timeout=20))
        with pytest.raises(TranscoderError, match="not an FLV stream") as refused:
            await write_garbage_until_refused(transcoder, b"")
        with pytest.raises(TranscoderError) as finished:
            await transcoder.finish(timeout=10)
        with pytest.raises(TranscoderError) as never_ready:
            await waiting
    assert finished.value is refused.value
    assert never_ready.value is refused.value
    assert transcoder.returncode == -9
    assert not transcoder.running


async def test_garbage_after_an_flv_header_makes_ffmpeg_fail(tmp_path: Path) -> None:
    async with Transcoder(FFMPEG, SOURCE, build_ladder(SOURCE), tmp_path / "live", tmp_path / "rec.ts") as transcoder:
        async with asyncio.timeout(20):
            # Seeded: some random streams fail ffmpeg differently ("could not find codec parameters").
            await transcoder.write(FLV_HEADER + random.Random(20261129).randbytes(2**20))
            with pytest.raises(TranscoderError) as failed:
                await transcoder.finish(timeout=10)
    assert transcoder.returncode not in (None, 0, -9)
    assert failed.value.returncode == transcoder.returncode
    assert "Invalid data" in str(failed.value)
    assert any("Invalid data" in line for line in transcoder.stderr_tail())
    assert transcoder.first_playlist_at is None


async def test_endless_garbage_is_cut_off_instead_of_feeding_ffmpeg_forever(tmp_path: Path) -> None:
    transcoder = Transcoder(
        FFMPEG, SOURCE, build_ladder(SOURCE), tmp_path / "live", tmp_path / "rec.ts", max_input_before_output=2**22
    )
    async with transcoder:
        with pytest.raises(TranscoderError, match="no audio or video"):
            await write_garbage_until_refused(transcoder, FLV_HEADER)
        with pytest.raises(TranscoderError, match="no audio or video"):
            await transcoder.write(b"more")
    assert transcoder.returncode == -9


async def test_a_source_without_the_audio_its_metadata_promised_fails_clearly(tmp_path: Path) -> None:
    silent = make_source(tmp_path / "silent.flv", size="640x360", seconds=2, audio=False)
    claims_audio = SourceInfo(640, 360, 30, None, audio=True)
    ladder = build_ladder(claims_audio)
    async with Transcoder(FFMPEG, claims_audio, ladder, tmp_path / "live", tmp_path / "rec.ts") as transcoder:
        async with asyncio.timeout(20):
            await feed(transcoder, silent)
            with pytest.raises(TranscoderError, match="matches no streams"):
                await transcoder.finish(timeout=10)


async def test_a_source_without_audio_gets_video_only_renditions(tmp_path: Path) -> None:
    silent = make_source(tmp_path / "silent.flv", size="640x360", seconds=2, audio=False)
    no_audio = SourceInfo(640, 360, 30, None, audio=False)
    async with Transcoder(FFMPEG, no_audio, build_ladder(no_audio), tmp_path / "live", tmp_path / "rec.ts") as t:
        await feed(t, silent)
        await t.finish(timeout=10)
    ((attrs, _uri),) = stream_infs(t.master_playlist.read_text())
    assert attrs["CODECS"].startswith("avc1.")
    assert "mp4a" not in attrs["CODECS"]
    assert attrs["RESOLUTION"] == "640x360"


async def feed_after_death(transcoder: Transcoder, rest: bytes) -> None:
    async with asyncio.timeout(10):
        await feed(transcoder, rest)
        await transcoder.write(b"\x00" * CHUNK)


async def test_ffmpeg_dying_makes_write_raise(
    tmp_path: Path, source_flv: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Transcoder(FFMPEG, SOURCE, build_ladder(SOURCE), tmp_path / "live", tmp_path / "rec.ts") as transcoder:
        await feed(transcoder, source_flv[: len(source_flv) // 3])
        assert transcoder.pid is not None
        os.kill(transcoder.pid, signal.SIGKILL)
        with pytest.raises(TranscoderError, match=r"exit code -9"):
            await feed_after_death(transcoder, source_flv[len(source_flv) // 3 :])
        with pytest.raises(TranscoderError):
            await transcoder.finish(timeout=5)
    assert transcoder.returncode == -9
    assert "transcoder_died" in capsys.readouterr().out


async def test_finish_on_a_stuck_ffmpeg_kills_it_after_the_timeout(tmp_path: Path) -> None:
    async with Transcoder(FFMPEG, SOURCE, build_ladder(SOURCE), tmp_path / "live", tmp_path / "rec.ts") as transcoder:
        assert transcoder.pid is not None
        os.kill(transcoder.pid, signal.SIGSTOP)
        try:
            with pytest.raises(TranscoderError, match="did not finish"):
                await transcoder.finish(timeout=1)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(transcoder.pid, signal.SIGCONT)
    assert transcoder.returncode == -9
    assert not transcoder.running


async def test_kill_is_a_hard_stop_and_idempotent(tmp_path: Path, source_flv: bytes) -> None:
    transcoder = Transcoder(FFMPEG, SOURCE, build_ladder(SOURCE), tmp_path / "live", tmp_path / "rec.ts")
    await transcoder.start()
    await transcoder.write(source_flv[:CHUNK])
    await transcoder.kill()
    await transcoder.kill()
    assert transcoder.returncode == -9
    with pytest.raises(TranscoderError):
        await transcoder.write(source_flv[CHUNK : 2 * CHUNK])


async def test_misuse_is_reported(tmp_path: Path) -> None:
    transcoder = Transcoder(FFMPEG, SOURCE, build_ladder(SOURCE), tmp_path / "live", tmp_path / "rec.ts")
    with pytest.raises(TranscoderError, match="not started"):
        await transcoder.write(b"FLV")
    with pytest.raises(TranscoderError, match="not started"):
        await transcoder.wait_first_playlist(timeout=1)
    (tmp_path / "rec.ts").write_bytes(b"an earlier part")
    with pytest.raises(TranscoderError, match="already exists"):
        await transcoder.start()
    assert (tmp_path / "rec.ts").read_bytes() == b"an earlier part"
    await transcoder.kill()  # nothing started: nothing to do

    missing = Transcoder("/nonexistent/ffmpeg", SOURCE, build_ladder(SOURCE), tmp_path / "l2", tmp_path / "r2.ts")
    with pytest.raises(TranscoderError, match="cannot run ffmpeg"):
        await missing.start()


async def test_stale_playlists_from_an_earlier_process_are_cleared(tmp_path: Path) -> None:
    out = tmp_path / "live"
    (out / "v0").mkdir(parents=True)
    (out / "master.m3u8").write_text("#EXTM3U\n")
    (out / "v0" / "index.m3u8").write_text("#EXTM3U\n#EXTINF:1,\np002_0.ts\n")
    (out / "v0" / "p002_0.ts").write_bytes(b"old")
    (out / "v0" / "p001_0.ts").write_bytes(b"an earlier part, kept for the archive")
    (out / "notes.txt").write_text("not ours")
    ladder = build_ladder(SOURCE)
    async with Transcoder(FFMPEG, SOURCE, ladder, out, tmp_path / "rec.ts", part=2) as transcoder:
        assert not (out / "master.m3u8").exists()
        assert not (out / "v0" / "index.m3u8").exists()
        assert not (out / "v0" / "p002_0.ts").exists()
        assert (out / "v0" / "p001_0.ts").exists()
        assert (out / "notes.txt").exists()
        with pytest.raises(TimeoutError):
            await transcoder.wait_first_playlist(timeout=0.5)


# --- the command line and the parsers, without running ffmpeg -------------------------------------------------------


def test_command_is_an_argument_list_with_aligned_keyframes(tmp_path: Path) -> None:
    args = build_command(
        ffmpeg="ffmpeg",
        source=SOURCE,
        ladder=build_ladder(SOURCE),
        out_dir=tmp_path / "live dir",
        recording_path=tmp_path / "rec.ts",
        segment_seconds=2,
        thumbnail_interval=10,
    )
    assert all(isinstance(a, str) for a in args)
    assert args[args.index("-i") + 1] == "pipe:0"
    assert args[args.index("-force_key_frames:v") + 1] == "expr:gte(t,n_forced*2)"
    assert args[args.index("-sc_threshold") + 1] == "0"
    assert args[args.index("-g") + 1] == str(gop_frames(SOURCE, 2)) == "120"
    assert args[args.index("-hls_time") + 1] == "2"
    assert args[args.index("-var_stream_map") + 1] == "v:0,a:0 v:1,a:1 v:2,a:2"
    flags = args[args.index("-hls_flags") + 1].split("+")
    assert {"independent_segments", "program_date_time", "temp_file"} <= set(flags)
    assert "delete_segments" not in flags  # the archive is made of them
    assert f"{tmp_path / 'live dir'}/v%v/p001_%d.ts" in args
    assert "-rw_timeout" not in args
    assert f"{tmp_path / 'live dir'}/v%v/index.m3u8" in args
    assert args.index(str(tmp_path / "rec.ts")) < args.index("hls")  # the recording is the first output


def test_command_without_audio_maps_no_audio(tmp_path: Path) -> None:
    silent = SourceInfo(640, 360, 0, None, audio=False)
    args = build_command(
        ffmpeg="ffmpeg", source=silent, ladder=build_ladder(silent), out_dir=tmp_path, recording_path=tmp_path / "r.ts"
    )
    assert "0:a:0" not in args
    assert "aac" not in args
    assert args[args.index("-var_stream_map") + 1] == "v:0"
    assert args[args.index("-g") + 1] == "60"  # no fps in the metadata: 30 assumed


def test_preset_drops_to_superfast_for_big_ladders() -> None:
    assert choose_preset(SOURCE, build_ladder(SOURCE)) == "veryfast"
    full_hd = SourceInfo(1920, 1080, 30, None, True)
    assert choose_preset(full_hd, build_ladder(full_hd)) == "superfast"
    assert choose_preset(full_hd, build_ladder(full_hd, max_height=720)) == "veryfast"
    assert choose_preset(SourceInfo(1280, 720, 60, None, True), build_ladder(SOURCE)) == "superfast"
    assert choose_preset(full_hd, build_ladder(full_hd, "passthrough")) == "veryfast"  # nothing to encode


def test_command_refuses_bad_ladders_and_paths(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no renditions"):
        build_command(ffmpeg="f", source=SOURCE, ladder=[], out_dir=tmp_path, recording_path=tmp_path / "r.ts")
    mixed = build_ladder(SOURCE, "passthrough") + build_ladder(SOURCE)
    with pytest.raises(ValueError, match="passthrough"):
        build_command(ffmpeg="f", source=SOURCE, ladder=mixed, out_dir=tmp_path, recording_path=tmp_path / "r.ts")
    with pytest.raises(ValueError, match="%"):
        build_command(
            ffmpeg="f", source=SOURCE, ladder=build_ladder(SOURCE), out_dir=tmp_path / "100%", recording_path=tmp_path
        )
    with pytest.raises(ValueError, match="positive"):
        Transcoder("f", SOURCE, build_ladder(SOURCE), tmp_path, tmp_path / "r.ts", segment_seconds=0)


def report(parser: ProgressParser, text: str, end: str = "continue") -> TranscoderStats:
    for line in text.strip().splitlines():
        assert parser.feed(line) is None
    stats = parser.feed(f"progress={end}")
    assert stats is not None
    return stats


def test_progress_parser_reads_blocks() -> None:
    parser = ProgressParser(clock=lambda: 10.0)  # a stopped clock: no window, ffmpeg's own figures
    first = "frame=37\nfps=0.00\nstream_0_0_q=-1.0\nbitrate=N/A\ntotal_size=N/A\nout_time_us=1256000\nspeed=N/A"
    assert report(parser, first) == TranscoderStats(frame=37, out_time_s=1.256, updated_at=10.0)
    second = "frame=67\nfps=66.88\nbitrate=6678.8kbits/s\ntotal_size=1048576\nout_time_us=2256000\nspeed=2.51x"
    stats = report(parser, second)
    assert (stats.frame, stats.fps, stats.bitrate_kbps, stats.speed, stats.total_size) == (
        67,
        66.88,
        6678.8,
        2.51,
        2**20,
    )
    # N/A keeps the last figure; a negative time counts as zero; out_time when out_time_us is missing.
    stats = report(parser, "bitrate=N/A\nspeed= 1.5x\nout_time=-00:00:00.500000\ndrop_frames=3\ngarbage", end="end")
    assert (stats.bitrate_kbps, stats.speed, stats.out_time_s, stats.drop_frames, stats.ended) == (
        6678.8, 1.5, 0.0, 3, True
    )  # fmt: skip
    assert parser.stats is stats


def test_progress_rates_are_recent_not_since_the_start() -> None:
    now = [100.0]
    parser = ProgressParser(clock=lambda: now[0], window=5.0)

    def tick(frame: int, out_time: float, size: int) -> TranscoderStats:
        now[0] += 0.5
        # ffmpeg's own fps/speed/bitrate (averages since its start) are deliberately off here.
        text = f"frame={frame}\nfps=1\nbitrate=1kbits/s\ntotal_size={size}\nout_time_us={int(out_time * 1e6)}\nspeed=9x"
        return report(parser, text)

    assert tick(15, 0.5, 250_000).speed == 9.0  # under a second of reports: ffmpeg's figures
    for i in range(2, 21):  # ten seconds at 30 fps, real time, 4 Mbit/s
        stats = tick(15 * i, 0.5 * i, 250_000 * i)
    assert (stats.fps, stats.speed, stats.bitrate_kbps) == (30.0, 1.0, 4000.0)
    for _ in range(12):  # the publisher goes quiet for six seconds: reports go on, nothing moves
        stats = tick(300, 10.0, 5_000_000)
    assert (stats.fps, stats.speed, stats.bitrate_kbps) == (0.0, 0.0, 0.0)
    assert stats.frame == 300


def test_line_splitter_bounds_long_lines() -> None:
    splitter = LineSplitter(max_line=10)
    assert splitter.feed(b"short\nand a very long line with") == ["short", "and a very …"]
    assert splitter.feed(b"out an end\r\nnext") == []  # the rest of the cut line is dropped
    assert splitter.feed(b"\n") == ["next"]
    assert splitter.feed(b"partial") == []
    assert splitter.flush() == ["partial"]


@pytest.fixture(autouse=True)
def no_stray_ffmpeg() -> Iterator[None]:
    """Every test stops the processes it starts."""
    before = _ffmpeg_children()
    yield
    deadline = time.monotonic() + 5
    while _ffmpeg_children() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _ffmpeg_children() - before == set()


def _ffmpeg_children() -> set[int]:
    me = os.getpid()
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me and "ffmpeg" in stat.split("(", 1)[1].split(")")[0]:
            found.add(int(entry.name))
    return found
