// The watch page of an ended stream: its archive played as VOD, "being prepared" while it is processed,
// cold storage, and the plain "ended" stage when there is no replay.
import { act, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { StreamArchive } from "../api/archives";
import type { Stream } from "../api/types";
import { clearSession, resetSessionForTests } from "../auth/session";
import { archiveFrame, makeArchive, streamArchiveOf } from "../test/archives";
import { hello } from "../test/chat";
import { hlsInstances, mockedHls } from "../test/fakeHls";
import { FakeWebSocket } from "../test/fakeWebSocket";
import { alice, errorBody, json, stubFetch } from "../test/http";
import { renderApp } from "../test/render";
import { makeStream, STREAM_ID } from "../test/streams";

vi.mock("hls.js", () => import("../test/fakeHls"));

const ready = makeArchive();
const processing = (progress: number) => makeArchive({ status: "processing", progress });

/** The stream as GET /api/streams/{id} returns it once ended, with what it says of its archive. */
function ended(archive: StreamArchive | null): Stream {
  return makeStream({ status: "ended", media_state: "ended", ended_at: "2026-03-04T21:02:03Z", hls_url: null, thumbnail_url: null, archive });
}

function serve(stream: () => Stream, more: Record<string, () => Response> = {}) {
  return stubFetch({
    [`GET /api/streams/${STREAM_ID}`]: () => json(200, stream()),
    "GET /api/users/by-username/alice": () => json(200, { ...alice, follower_count: 7 }),
    ...more,
  });
}

const COLD = () => errorBody(409, "ARCHIVE_COLD", "This archive is in cold storage");

const endedHello = () =>
  hello({ stream: { status: "ended", media_state: "ended", title: "Building a synth from scratch", description: null } });

const streamCalls = (calls: Request[]) => calls.filter((r) => new URL(r.url).pathname === `/api/streams/${STREAM_ID}`).length;

describe("watch page of an ended stream", () => {
  beforeEach(async () => {
    resetSessionForTests();
    clearSession();
    (await hlsInstances()).length = 0;
    (await mockedHls()).supported = true;
    vi.spyOn(HTMLMediaElement.prototype, "play").mockResolvedValue(undefined);
  });
  afterEach(async () => {
    vi.useRealTimers();
    (await mockedHls()).supported = true;
    resetSessionForTests();
  });

  it("plays the ready archive with the same player, as VOD: seekable, no live tuning, no LIVE badge", async () => {
    serve(() => ended(streamArchiveOf(ready)));
    renderApp(`/watch/${STREAM_ID}?bench=1`);

    const video = await screen.findByTestId("player");
    expect(video).toHaveAttribute("data-mode", "vod");
    expect(video).toHaveAttribute("controls"); // the browser's seek bar and duration
    expect(video).toHaveAttribute("poster", ready.thumbnail_url!);
    expect(video).toHaveAccessibleName("Replay: Building a synth from scratch");
    const [hls] = await hlsInstances();
    expect(hls!.source).toBe(ready.hls_url);
    expect(hls!.config).toMatchObject({ lowLatencyMode: false, enableWorker: true });
    expect(hls!.config).not.toHaveProperty("liveSyncDuration");
    expect(hls!.config).not.toHaveProperty("maxLiveSyncPlaybackRate");
    act(() => hls!.emit("hlsLevelUpdated", { details: { live: false, targetduration: 6 } }));
    expect(hls!.targetLatency).toBeNull();
    // No latency probe for a recording, even with ?bench=1.
    expect(window.__lsPlayer).toBeUndefined();

    // The quality menu works as live.
    act(() => hls!.emit("hlsManifestParsed"));
    expect(await screen.findByTestId("quality-button")).toHaveTextContent("Auto");

    expect(screen.queryByTestId("live-badge")).not.toBeInTheDocument();
    expect(screen.queryByTestId("viewer-count")).not.toBeInTheDocument();
    expect(screen.queryByTestId("stream-ended")).not.toBeInTheDocument();
    expect(screen.getByTestId("ended-pill")).toHaveTextContent("Replay");
    expect(screen.getByTestId("replay-duration")).toHaveTextContent("1:02:03");
  });

  it("picks up where it was after a network failure instead of from the start", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    serve(() => ended(streamArchiveOf(ready)));
    renderApp(`/watch/${STREAM_ID}`);
    const video = await screen.findByTestId("player");
    const instances = await hlsInstances();
    const first = instances.at(-1)!;
    Object.defineProperty(video, "currentTime", { configurable: true, value: 842.5 });
    act(() => first.emit("hlsError", { fatal: true, type: "networkError", details: "fragLoadError", response: { code: 0 } }));
    expect(first.destroyed).toBe(true);
    await act(() => vi.advanceTimersByTimeAsync(3_100));
    const second = instances.at(-1)!;
    expect(second).not.toBe(first);
    expect(second.config).toMatchObject({ startPosition: 842.5, lowLatencyMode: false });
    expect(second.source).toBe(ready.hls_url);
  });

  it("says the replay is being prepared, follows archive.status frames, and plays it once ready", async () => {
    let current = ended(streamArchiveOf(processing(10)));
    const { calls } = serve(() => current);
    renderApp(`/watch/${STREAM_ID}`);

    const stage = await screen.findByTestId("replay-preparing");
    expect(stage).toHaveTextContent("The replay is being prepared (10 %)");
    expect(screen.getByTestId("replay-progress")).toHaveAttribute("value", "10");
    expect(screen.queryByTestId("player")).not.toBeInTheDocument();
    expect(screen.getByTestId("ended-pill")).toHaveTextContent("Ended");

    const ws = FakeWebSocket.latest();
    ws.serverOpen();
    ws.serverSend(endedHello());
    ws.serverSend(archiveFrame(ready, { progress: 55.4 }));
    await waitFor(() => expect(stage).toHaveTextContent("The replay is being prepared (55 %)"));
    expect(screen.getByTestId("replay-progress")).toHaveAttribute("value", "55");
    // Another stream's archive is not this one.
    ws.serverSend(archiveFrame({ archive_id: "other", stream_id: "other-stream" }, { progress: 90 }));
    await act(() => new Promise((resolve) => setTimeout(resolve, 20)));
    expect(stage).toHaveTextContent("(55 %)");

    // Ready: the stream is fetched again for the playlist, and the replay starts.
    const before = streamCalls(calls);
    current = ended(streamArchiveOf(ready));
    ws.serverSend(archiveFrame(ready, { status: "ready", progress: 100 }));
    const video = await screen.findByTestId("player");
    expect(video).toHaveAttribute("data-mode", "vod");
    expect(streamCalls(calls)).toBe(before + 1);
    expect(screen.getByTestId("ended-pill")).toHaveTextContent("Replay");
  });

  it("polls slowly while the replay is prepared, in case a frame is missed, and stops once it is ready", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let current = ended(streamArchiveOf(processing(20)));
    const { calls } = serve(() => current);
    renderApp(`/watch/${STREAM_ID}`);
    expect(await screen.findByTestId("replay-preparing")).toHaveTextContent("(20 %)");
    const ws = FakeWebSocket.latest();
    ws.serverOpen();
    ws.serverSend(endedHello());

    const before = streamCalls(calls);
    current = ended(streamArchiveOf(processing(70)));
    await act(() => vi.advanceTimersByTimeAsync(5_000));
    expect(streamCalls(calls)).toBe(before); // not the live page's 3 s
    await act(() => vi.advanceTimersByTimeAsync(10_500));
    await waitFor(() => expect(screen.getByTestId("replay-preparing")).toHaveTextContent("(70 %)"));

    current = ended(streamArchiveOf(ready));
    await act(() => vi.advanceTimersByTimeAsync(15_500));
    expect(await screen.findByTestId("player")).toHaveAttribute("data-mode", "vod");
    const after = streamCalls(calls);
    ws.serverSend({ type: "pong" });
    await act(() => vi.advanceTimersByTimeAsync(60_000));
    ws.serverSend({ type: "pong" });
    expect(streamCalls(calls)).toBe(after);
  });

  it("turns into 'being prepared' when the live stream it shows ends", async () => {
    let current = makeStream();
    serve(() => current);
    renderApp(`/watch/${STREAM_ID}`);
    expect(await screen.findByTestId("live-badge")).toBeInTheDocument();
    const ws = FakeWebSocket.latest();
    ws.serverOpen();
    ws.serverSend(hello());

    current = ended(streamArchiveOf(processing(0)));
    ws.serverSend({ type: "stream.status", status: "ended", media_state: "ended", title: "Building a synth from scratch", description: null });
    expect(await screen.findByTestId("replay-preparing")).toHaveTextContent("The replay is being prepared (0 %)");
    ws.serverSend(archiveFrame(ready, { progress: 3 }));
    await waitFor(() => expect(screen.getByTestId("replay-preparing")).toHaveTextContent("(3 %)"));
  });

  it("says the archive is in cold storage when the playlist answers 409 ARCHIVE_COLD, and does not retry", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const { calls } = serve(() => ended(streamArchiveOf(ready)));
    renderApp(`/watch/${STREAM_ID}`);
    await screen.findByTestId("player");
    const instances = await hlsInstances();
    const hls = instances.at(-1)!;
    act(() =>
      hls.emit("hlsError", {
        fatal: true,
        type: "networkError",
        details: "manifestLoadError",
        response: { code: 409, text: "Conflict" },
        networkDetails: { responseText: JSON.stringify({ error: "This archive is in cold storage", code: "ARCHIVE_COLD" }) },
      }),
    );
    const cold = await screen.findByTestId("replay-cold");
    expect(cold).toHaveTextContent("This archive is in cold storage");
    expect(cold).toHaveTextContent("Ask Alice to have it restored");
    expect(screen.getByRole("link", { name: "More from Alice" })).toHaveAttribute("href", "/u/alice");
    expect(hls.destroyed).toBe(true);
    const count = instances.length;
    await act(() => vi.advanceTimersByTimeAsync(10_000));
    expect(instances).toHaveLength(count);
    expect(screen.queryByTestId("player")).not.toBeInTheDocument();
    // The storage class is not asked for: a restored archive keeps its cold class and plays.
    expect(calls.some((c) => new URL(c.url).pathname.startsWith("/api/archives"))).toBe(false);
  });

  it("says so too when only a segment answers 409 (its playlist was served from memory)", async () => {
    serve(() => ended(streamArchiveOf(ready)));
    renderApp(`/watch/${STREAM_ID}`);
    await screen.findByTestId("player");
    const hls = (await hlsInstances()).at(-1)!;
    act(() => hls.emit("hlsManifestParsed"));
    // Not fatal yet for hls.js (it would try the other renditions, cold as well): 409 is enough.
    act(() => hls.emit("hlsError", { fatal: false, type: "networkError", details: "fragLoadError", response: { code: 409 } }));
    expect(await screen.findByTestId("replay-cold")).toBeInTheDocument();
    expect(hls.destroyed).toBe(true);
  });

  it("keeps playing through other non-fatal errors", async () => {
    serve(() => ended(streamArchiveOf(ready)));
    renderApp(`/watch/${STREAM_ID}`);
    await screen.findByTestId("player");
    const hls = (await hlsInstances()).at(-1)!;
    act(() => hls.emit("hlsError", { fatal: false, type: "networkError", details: "fragLoadError", response: { code: 404 } }));
    act(() => hls.emit("hlsError", { fatal: false, type: "networkError", details: "fragLoadTimeOut", response: { code: 0 } }));
    expect(hls.destroyed).toBe(false);
    expect(screen.queryByTestId("replay-cold")).not.toBeInTheDocument();
    expect(screen.getByTestId("player")).toBeInTheDocument();
  });

  it("plays with the browser's own HLS where hls.js cannot run, and learns that it is cold from the playlist", async () => {
    (await mockedHls()).supported = false;
    vi.spyOn(HTMLMediaElement.prototype, "canPlayType").mockReturnValue("maybe");
    const master = new URL(ready.hls_url!).pathname;
    const { calls } = serve(() => ended(streamArchiveOf(ready)), { [`GET ${master}`]: COLD });
    renderApp(`/watch/${STREAM_ID}`);
    const video = (await screen.findByTestId("player")) as HTMLVideoElement;
    expect(video.getAttribute("src")).toBe(ready.hls_url);
    expect(await hlsInstances()).toHaveLength(0);
    act(() => {
      video.dispatchEvent(new Event("error"));
    });
    expect(await screen.findByTestId("replay-cold")).toHaveTextContent("This archive is in cold storage");
    expect(calls.filter((c) => new URL(c.url).pathname === master)).toHaveLength(1);
  });

  it("asks for the stream again when the playlist is refused otherwise (deleted meanwhile)", async () => {
    let current = ended(streamArchiveOf(ready));
    serve(() => current);
    renderApp(`/watch/${STREAM_ID}`);
    await screen.findByTestId("player");
    const hls = (await hlsInstances()).at(-1)!;
    current = ended(null);
    act(() => hls.emit("hlsError", { fatal: true, type: "networkError", details: "manifestLoadError", response: { code: 404 } }));
    expect(await screen.findByTestId("stream-ended")).toHaveTextContent("This stream has ended");
    expect(screen.queryByTestId("replay-cold")).not.toBeInTheDocument();
  });

  it("shows that the stream has ended when its archive failed, or when there is none", async () => {
    serve(() => ended(streamArchiveOf(makeArchive({ status: "failed", failure_reason: "ffmpeg exited with 1" }))));
    const first = renderApp(`/watch/${STREAM_ID}`);
    expect(await screen.findByTestId("stream-ended")).toHaveTextContent("This stream has ended");
    expect(screen.queryByTestId("player")).not.toBeInTheDocument();
    expect(screen.queryByTestId("replay-preparing")).not.toBeInTheDocument();
    first.unmount();

    serve(() => ended(null));
    renderApp(`/watch/${STREAM_ID}`);
    expect(await screen.findByTestId("stream-ended")).toHaveTextContent("This stream has ended");
    expect(screen.getByTestId("ended-pill")).toHaveTextContent("Ended");
  });
});
