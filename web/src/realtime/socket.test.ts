import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { clearSession, getAccessToken, resetSessionForTests, setAuthenticated } from "../auth/session";
import { hello } from "../test/chat";
import { FakeWebSocket } from "../test/fakeWebSocket";
import { alice } from "../test/http";
import { STREAM_ID } from "../test/streams";
import { parseServerFrame } from "./protocol";
import { backoffDelay, BACKOFF_MAX_MS, PING_INTERVAL_MS, StreamSocket, streamSocketUrl, type ConnectionState } from "./socket";

function open(options: ConstructorParameters<typeof StreamSocket>[1] = {}) {
  const socket = new StreamSocket(STREAM_ID, { random: () => 0.5, refresh: vi.fn(async () => false), ...options });
  const states: ConnectionState[] = [];
  socket.on("state", (s) => states.push(s));
  socket.start();
  return { socket, states, ws: FakeWebSocket.latest() };
}

describe("stream socket", () => {
  beforeEach(() => {
    resetSessionForTests();
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    resetSessionForTests();
  });

  it("connects to /ws/streams/{id} on the page's host, wss: on an https: page, with no token in the URL", () => {
    expect(streamSocketUrl("abc", { protocol: "http:", host: "localhost:3000" })).toBe("ws://localhost:3000/ws/streams/abc");
    expect(streamSocketUrl("a/b", { protocol: "https:", host: "live.example" })).toBe("wss://live.example/ws/streams/a%2Fb");
    setAuthenticated("secret-token", alice);
    const { ws, socket } = open();
    expect(ws.url).toBe(`ws://localhost:3000/ws/streams/${STREAM_ID}`);
    expect(ws.url).not.toContain("secret-token");
    socket.close();
  });

  it("parses frames into typed events and ignores what it does not understand", () => {
    const { ws, socket } = open();
    const frames: string[] = [];
    const counts: number[] = [];
    socket.on("frame", (f) => frames.push(f.type));
    socket.on("viewers", (f) => counts.push(f.count));
    ws.serverOpen();
    ws.serverSend(hello());
    ws.serverSend("not json");
    ws.serverSend({ type: "surprise" });
    ws.serverSend({ type: "viewers", count: "many" });
    ws.serverSend({ type: "viewers", count: 9 });
    expect(frames).toEqual(["hello", "viewers"]);
    expect(counts).toEqual([9]);
    expect(parseServerFrame(JSON.stringify({ type: "error", code: "SLOW_MODE", error: "Slow down", nonce: "n1", retry_after: 4 }))).toEqual({
      type: "error",
      code: "SLOW_MODE",
      error: "Slow down",
      nonce: "n1",
      retry_after: 4,
    });
    socket.close();
  });

  it("parses archive.status frames, keeping progress within 0..100 and refusing unknown statuses", () => {
    const frame = { type: "archive.status", archive_id: "a1", stream_id: "s1", status: "processing", progress: 42, failure_reason: null };
    expect(parseServerFrame(JSON.stringify(frame))).toEqual(frame);
    expect(parseServerFrame(JSON.stringify({ ...frame, status: "failed", progress: 130, failure_reason: "Disk full" }))).toEqual({
      ...frame,
      status: "failed",
      progress: 100,
      failure_reason: "Disk full",
    });
    expect(parseServerFrame(JSON.stringify({ ...frame, failure_reason: undefined, extra: 1 }))).toEqual(frame);
    expect(parseServerFrame(JSON.stringify({ ...frame, status: "queued" }))).toBeNull();
    expect(parseServerFrame(JSON.stringify({ ...frame, progress: "42" }))).toBeNull();
    expect(parseServerFrame(JSON.stringify({ ...frame, archive_id: 7 }))).toBeNull();
  });

  it("signs in after opening when there is a session, not before and not when signed out", () => {
    const anon = open();
    anon.ws.serverOpen();
    expect(anon.ws.framesOf("auth")).toEqual([]);
    anon.socket.close();

    setAuthenticated("token-1", alice);
    const { ws, socket, states } = open();
    expect(states).toEqual([]); // still "connecting"
    ws.serverOpen();
    expect(states).toEqual(["open"]);
    expect(ws.frames()).toEqual([{ type: "auth", token: "token-1" }]);
    socket.close();
    expect(ws.closedWith).toBe(1000);
    expect(states.at(-1)).toBe("closed");
  });

  it("sends auth again whenever the access token changes, and reconnects anonymously on sign-out", () => {
    setAuthenticated("token-1", alice);
    const { ws, socket } = open();
    ws.serverOpen();
    setAuthenticated("token-2", alice); // a refresh elsewhere in the app
    setAuthenticated("token-2", { ...alice, display_name: "A" }); // same token: nothing to send
    expect(ws.framesOf("auth")).toEqual([
      { type: "auth", token: "token-1" },
      { type: "auth", token: "token-2" },
    ]);

    clearSession();
    expect(ws.closedWith).not.toBeNull();
    vi.advanceTimersByTime(0);
    const next = FakeWebSocket.latest();
    expect(next).not.toBe(ws);
    next.serverOpen();
    expect(next.framesOf("auth")).toEqual([]);
    socket.close();
  });

  it("pings every 20 s while open and starts over when nothing comes back", () => {
    const { ws, socket } = open();
    ws.serverOpen();
    vi.advanceTimersByTime(PING_INTERVAL_MS);
    expect(ws.framesOf("ping")).toHaveLength(1);
    ws.serverSend({ type: "pong" });
    vi.advanceTimersByTime(PING_INTERVAL_MS);
    expect(ws.framesOf("ping")).toHaveLength(2);
    // No pong, no frame at all for two more intervals: the connection is dead.
    vi.advanceTimersByTime(PING_INTERVAL_MS * 2);
    expect(ws.closedWith).not.toBeNull();
    expect(socket.state).toBe("reconnecting");
    socket.close();
  });

  it("reconnects after a close with capped exponential backoff and jitter, and resets after a hello", () => {
    expect(backoffDelay(0, () => 0)).toBe(500);
    expect(backoffDelay(0, () => 1)).toBe(1000);
    expect(backoffDelay(3, () => 0.5)).toBe(6000);
    expect(backoffDelay(20, () => 1)).toBe(BACKOFF_MAX_MS);
    expect(backoffDelay(20, () => 0)).toBe(BACKOFF_MAX_MS / 2);

    const { ws, socket, states } = open();
    ws.serverOpen();
    ws.serverClose(1012); // the server restarts
    expect(states).toEqual(["open", "reconnecting"]);
    expect(FakeWebSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(749);
    expect(FakeWebSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(1); // 1 s step, jittered to 750 ms
    expect(FakeWebSocket.instances).toHaveLength(2);

    FakeWebSocket.latest().serverClose(1006); // the handshake fails
    vi.advanceTimersByTime(1499);
    expect(FakeWebSocket.instances).toHaveLength(2);
    vi.advanceTimersByTime(1); // 2 s step → 1.5 s
    expect(FakeWebSocket.instances).toHaveLength(3);

    const third = FakeWebSocket.latest();
    third.serverOpen();
    third.serverSend(hello());
    expect(states.at(-1)).toBe("open");
    third.serverClose(4000);
    vi.advanceTimersByTime(750); // back to the first step
    expect(FakeWebSocket.instances).toHaveLength(4);
    socket.close();
    vi.advanceTimersByTime(60_000);
    expect(FakeWebSocket.instances).toHaveLength(4);
  });

  it("gives up on an unknown stream (close 4404)", () => {
    const { ws, socket, states } = open();
    ws.serverOpen();
    ws.serverSend({ type: "error", code: "STREAM_NOT_FOUND", error: "Stream not found" });
    ws.serverClose(4404);
    vi.advanceTimersByTime(120_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(states.at(-1)).toBe("closed");
    expect(socket.send({ type: "ping" })).toBe(false);
  });

  it("refreshes once when the server no longer takes the token, then signs in with the new one", async () => {
    setAuthenticated("old-token", alice);
    const refresh = vi.fn(async () => {
      setAuthenticated("new-token", alice);
      return true;
    });
    const { ws, socket } = open({ refresh });
    ws.serverOpen();
    ws.serverSend({ type: "error", code: "UNAUTHENTICATED", error: "Sign in to chat", nonce: "n1" });
    ws.serverSend({ type: "error", code: "UNAUTHENTICATED", error: "Sign in to chat", nonce: "n2" });
    await vi.waitFor(() => expect(refresh).toHaveBeenCalledTimes(1));
    expect(ws.framesOf("auth").map((f) => f.token)).toEqual(["old-token", "new-token"]);

    // After a successful auth.ok, a later expiry may refresh again.
    ws.serverSend({ type: "auth.ok", user: { user_id: alice.user_id, username: "alice" }, role: "viewer" });
    ws.serverSend({ type: "error", code: "TOKEN_INVALID", error: "Token expired" });
    await vi.waitFor(() => expect(refresh).toHaveBeenCalledTimes(2));
    expect(getAccessToken()).toBe("new-token");
    // Same token after the refresh: it is sent again explicitly.
    expect(ws.framesOf("auth").map((f) => f.token)).toEqual(["old-token", "new-token", "new-token"]);
    socket.close();
  });

  it("sends nothing (and says so) while not connected", () => {
    const { ws, socket } = open();
    expect(socket.send({ type: "chat.send", text: "hi", nonce: "n" })).toBe(false);
    ws.serverOpen();
    expect(socket.send({ type: "chat.send", text: "hi", nonce: "n" })).toBe(true);
    expect(ws.framesOf("chat.send")).toEqual([{ type: "chat.send", text: "hi", nonce: "n" }]);
    socket.close();
  });
});
