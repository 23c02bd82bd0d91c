import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Stream } from "../api/types";
import { clearSession, resetSessionForTests } from "../auth/session";
import { chatMessage, hello } from "../test/chat";
import { hlsInstances } from "../test/fakeHls";
import { FakeWebSocket } from "../test/fakeWebSocket";
import { alice, errorBody, json, stubFetch } from "../test/http";
import { renderApp } from "../test/render";
import { makeStream, STREAM_ID } from "../test/streams";

vi.mock("hls.js", () => import("../test/fakeHls"));

const aliceProfile = {
  user_id: alice.user_id,
  username: "alice",
  display_name: "Alice",
  bio: null,
  created_at: "2026-01-02T03:04:05Z",
  follower_count: 7,
  following_count: 0,
  viewer_follow_id: null,
};

function serve(stream: () => Stream | Response) {
  return stubFetch({
    [`GET /api/streams/${STREAM_ID}`]: () => {
      const s = stream();
      return s instanceof Response ? s : json(200, s);
    },
    "GET /api/users/by-username/alice": () => json(200, aliceProfile),
  });
}

describe("watch page", () => {
  beforeEach(async () => {
    resetSessionForTests();
    clearSession();
    (await hlsInstances()).length = 0;
    vi.spyOn(HTMLMediaElement.prototype, "play").mockResolvedValue(undefined);
  });
  afterEach(() => {
    vi.useRealTimers();
    resetSessionForTests();
  });

  it("plays a live stream with hls.js, tuned for low latency, with the stream's details", async () => {
    serve(() => makeStream());
    renderApp(`/watch/${STREAM_ID}`);

    expect(await screen.findByTestId("stream-title")).toHaveTextContent("Building a synth from scratch");
    expect(screen.getByTestId("live-badge")).toHaveTextContent("Live");
    expect(screen.getByTestId("viewer-count")).toHaveTextContent("12 viewers");
    expect(screen.getByTestId("stream-description")).toHaveTextContent("Soldering, then sound.");
    expect(screen.getByTestId("creator-link")).toHaveAttribute("href", "/u/alice");
    expect(await screen.findByRole("link", { name: "Log in to follow" })).toBeInTheDocument();

    const video = await screen.findByTestId("player");
    expect(video.tagName).toBe("VIDEO");
    expect((video as HTMLVideoElement).muted).toBe(true);
    const [hls] = await hlsInstances();
    expect(hls!.source).toBe(`http://localhost:3000/hls/${STREAM_ID}/master.m3u8`);
    expect(hls!.config).toMatchObject({
      lowLatencyMode: true,
      liveSyncDuration: 2,
      maxLiveSyncPlaybackRate: 1.5,
      backBufferLength: 30,
      enableWorker: true,
    });
    // Two segments behind the live edge, whatever the segment length.
    act(() => hls!.emit("hlsLevelUpdated", { details: { live: true, targetduration: 2 } }));
    expect(hls!.targetLatency).toBe(4);
    expect(window.__lsPlayer).toBeUndefined();
  });

  it("offers Auto and each rendition, and switches hls.currentLevel", async () => {
    serve(() => makeStream());
    const user = userEvent.setup();
    renderApp(`/watch/${STREAM_ID}`);
    await screen.findByTestId("player");
    const [hls] = await hlsInstances();
    act(() => hls!.emit("hlsManifestParsed"));
    act(() => hls!.emit("hlsLevelSwitched", { level: 1 }));

    const button = await screen.findByTestId("quality-button");
    expect(button).toHaveTextContent("Auto (720p)");
    await user.click(button);
    const menu = screen.getByTestId("quality-menu");
    expect(within(menu).getAllByRole("menuitemradio").map((i) => i.textContent)).toEqual(["Auto", "720p", "480p", "360p"]);
    expect(within(menu).getByRole("menuitemradio", { name: "Auto" })).toHaveAttribute("aria-checked", "true");

    await user.click(within(menu).getByRole("menuitemradio", { name: "480p" }));
    expect(hls!.currentLevel).toBe(2);
    expect(button).toHaveTextContent("480p");
    await user.click(button);
    await user.click(screen.getByRole("menuitemradio", { name: "Auto" }));
    expect(hls!.currentLevel).toBe(-1);
  });

  it("unmutes with one click", async () => {
    serve(() => makeStream());
    const user = userEvent.setup();
    renderApp(`/watch/${STREAM_ID}`);
    const video = (await screen.findByTestId("player")) as HTMLVideoElement;
    await user.click(await screen.findByTestId("unmute-button"));
    expect(video.muted).toBe(false);
    await waitFor(() => expect(screen.queryByTestId("unmute-button")).not.toBeInTheDocument());
  });

  it("exposes the latency probe only with ?bench=1, and removes it on leaving", async () => {
    serve(() => makeStream());
    const { unmount } = renderApp(`/watch/${STREAM_ID}?bench=1`);
    await screen.findByTestId("player");
    await waitFor(() => expect(window.__lsPlayer).toBeDefined());
    expect(window.__lsPlayer!.latency()).toBe(2.4);
    expect(window.__lsPlayer!.playingDate()).toBe(1_772_654_400_000);
    unmount();
    expect(window.__lsPlayer).toBeUndefined();
    expect((await hlsInstances()).every((h) => h.destroyed)).toBe(true);
  });

  it("falls back to (slow) polling while the socket is down: title, reconnecting, ended", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let current = makeStream();
    serve(() => current);
    renderApp(`/watch/${STREAM_ID}`);
    expect(await screen.findByTestId("stream-title")).toHaveTextContent("Building a synth from scratch");

    current = { ...current, title: "Now with a theremin", media_state: "reconnecting" };
    await act(() => vi.advanceTimersByTimeAsync(3_100));
    expect(screen.getByTestId("stream-title")).toHaveTextContent("Building a synth from scratch"); // not every 3 s any more
    await act(() => vi.advanceTimersByTimeAsync(12_000));
    await waitFor(() => expect(screen.getByTestId("stream-title")).toHaveTextContent("Now with a theremin"));
    expect(screen.getByTestId("reconnecting")).toHaveTextContent("Reconnecting…");
    expect(screen.queryByTestId("live-badge")).not.toBeInTheDocument();
    expect(screen.getByTestId("player")).toBeInTheDocument(); // keeps playing what it has, resumes by itself

    current = { ...current, media_state: "live" };
    await act(() => vi.advanceTimersByTimeAsync(15_100));
    await waitFor(() => expect(screen.queryByTestId("reconnecting")).not.toBeInTheDocument());
    expect(screen.getByTestId("live-badge")).toBeInTheDocument();

    current = { ...current, status: "ended", media_state: "ended", ended_at: "2026-03-04T21:00:00Z", hls_url: null };
    await act(() => vi.advanceTimersByTimeAsync(15_100));
    expect(await screen.findByTestId("stream-ended")).toHaveTextContent("This stream has ended");
    expect(screen.queryByTestId("player")).not.toBeInTheDocument();
    expect((await hlsInstances()).every((h) => h.destroyed)).toBe(true);
  });

  it("recovers from media errors, and starts over after a fatal network error keeping the chosen quality", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    serve(() => makeStream());
    const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
    renderApp(`/watch/${STREAM_ID}`);
    await screen.findByTestId("player");
    const instances = await hlsInstances();
    const first = instances.at(-1)!;
    act(() => first.emit("hlsManifestParsed"));
    await user.click(await screen.findByTestId("quality-button"));
    await user.click(screen.getByRole("menuitemradio", { name: "480p" }));
    expect(first.currentLevel).toBe(2);

    act(() => first.emit("hlsError", { fatal: true, type: "mediaError", details: "bufferStalledError" }));
    expect(first.recoveries).toBe(1);
    expect(first.destroyed).toBe(false);

    act(() => first.emit("hlsError", { fatal: true, type: "networkError", details: "levelLoadError" }));
    expect(first.destroyed).toBe(true);
    expect(await screen.findByTestId("player-trouble")).toHaveTextContent("Trying again");
    const count = instances.length;
    await act(() => vi.advanceTimersByTimeAsync(3_100));
    expect(instances).toHaveLength(count + 1);
    const second = instances.at(-1)!;
    expect(second.destroyed).toBe(false);
    expect(second.source).toBe(first.source);
    act(() => second.emit("hlsManifestParsed"));
    expect(second.currentLevel).toBe(2);
    expect(screen.getByTestId("quality-button")).toHaveTextContent("480p");
  });

  it("opens the stream's socket and shows the chat beside the player", async () => {
    serve(() => makeStream());
    renderApp(`/watch/${STREAM_ID}`);
    await screen.findByTestId("stream-title");
    const ws = FakeWebSocket.latest();
    expect(ws.url).toBe(`ws://localhost:3000/ws/streams/${STREAM_ID}`);
    const panel = screen.getByTestId("chat-panel");
    expect(within(panel).getByRole("heading", { name: "Live chat" })).toBeInTheDocument();
    expect(within(panel).getByTestId("chat-state")).toHaveAttribute("data-state", "connecting");
    ws.serverOpen();
    ws.serverSend(hello({ history: [chatMessage({ id: "h1", text: "hello from the log" })] }));
    expect(within(panel).getByTestId("chat-message")).toHaveTextContent("bob: hello from the log");
    expect(within(panel).getByTestId("chat-state")).toHaveAttribute("data-state", "open");
    expect(within(panel).getByRole("link", { name: "Log in to chat" })).toBeInTheDocument();
  });

  it("takes the viewer count and stream changes from the socket, and stops polling while it is up", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let current = makeStream();
    const { calls } = serve(() => current);
    renderApp(`/watch/${STREAM_ID}`);
    expect(await screen.findByTestId("viewer-count")).toHaveTextContent("12 viewers");
    const ws = FakeWebSocket.latest();
    ws.serverOpen();
    ws.serverSend(hello({ viewer_count: 40 }));
    expect(screen.getByTestId("viewer-count")).toHaveTextContent("40 viewers");
    ws.serverSend({ type: "viewers", count: 1 });
    expect(screen.getByTestId("viewer-count")).toHaveTextContent("1 viewer");

    ws.serverSend({
      type: "stream.status",
      status: "live",
      media_state: "reconnecting",
      title: "Now with a theremin",
      description: "Wires everywhere.",
    });
    await waitFor(() => expect(screen.getByTestId("stream-title")).toHaveTextContent("Now with a theremin"));
    expect(screen.getByTestId("stream-description")).toHaveTextContent("Wires everywhere.");
    expect(screen.getByTestId("reconnecting")).toBeInTheDocument();

    const streamCalls = () => calls.filter((r) => new URL(r.url).pathname === `/api/streams/${STREAM_ID}`).length;
    const before = streamCalls();
    await act(() => vi.advanceTimersByTimeAsync(40_000));
    ws.serverSend({ type: "pong" });
    expect(streamCalls()).toBe(before);

    // The stream ends: shown at once, then fetched once for the details only the API has.
    current = { ...current, status: "ended", media_state: "ended", ended_at: "2026-03-04T21:00:00Z", hls_url: null };
    ws.serverSend({ type: "stream.status", status: "ended", media_state: "ended", title: "Now with a theremin", description: null });
    expect(await screen.findByTestId("stream-ended")).toHaveTextContent("This stream has ended");
    await waitFor(() => expect(streamCalls()).toBe(before + 1));
    expect(screen.getByTestId("chat-input")).toBeDisabled();
  });

  it("waits for the broadcaster without a player", async () => {
    serve(() => makeStream({ media_state: "waiting" }));
    renderApp(`/watch/${STREAM_ID}`);
    expect(await screen.findByTestId("stream-waiting")).toHaveTextContent("Waiting for the broadcaster");
    expect(screen.queryByTestId("player")).not.toBeInTheDocument();
    expect(screen.queryByTestId("live-badge")).not.toBeInTheDocument();
  });

  it("says so when the stream does not exist", async () => {
    serve(() => errorBody(404, "STREAM_NOT_FOUND", "Stream not found"));
    renderApp(`/watch/${STREAM_ID}`);
    expect(await screen.findByRole("heading", { name: "Stream not found" })).toBeInTheDocument();
  });
});
