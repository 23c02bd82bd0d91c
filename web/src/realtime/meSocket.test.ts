import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { resetSessionForTests, setAuthenticated } from "../auth/session";
import { FakeWebSocket } from "../test/fakeWebSocket";
import { alice } from "../test/http";
import { streamStarted } from "../test/notifications";
import { MeCloseCode, MeSocket, meSocketUrl, parseMeFrame } from "./meSocket";
import { BACKOFF_MAX_MS, PING_INTERVAL_MS } from "./socket";

function open() {
  const socket = new MeSocket({ random: () => 0.5, refresh: vi.fn(async () => false) });
  const live: boolean[] = [];
  socket.on("live", (v) => live.push(v));
  socket.start();
  return { socket, live, ws: FakeWebSocket.latest() };
}

describe("/ws/me socket", () => {
  beforeEach(() => {
    resetSessionForTests();
    setAuthenticated("token-a", alice);
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    resetSessionForTests();
  });

  it("connects to /ws/me like the page (wss: on https:), never with the token in the URL", () => {
    expect(meSocketUrl({ protocol: "http:", host: "localhost:3000" })).toBe("ws://localhost:3000/ws/me");
    expect(meSocketUrl({ protocol: "https:", host: "live.example" })).toBe("wss://live.example/ws/me");
    const { ws, socket } = open();
    expect(ws.url).toBe("ws://localhost:3000/ws/me");
    ws.serverOpen();
    expect(ws.frames()).toEqual([{ type: "auth", token: "token-a" }]);
    socket.close();
    expect(ws.closedWith).toBe(1000);
  });

  it("is live from auth.ok until an auth error or a drop, re-signs in with a new token, pings", () => {
    const { ws, socket, live } = open();
    ws.serverOpen();
    ws.serverSend({ type: "auth.ok", user: { user_id: alice.user_id, username: "alice" }, unread: 2 });
    expect(socket.live).toBe(true);
    setAuthenticated("token-b", alice);
    expect(ws.framesOf("auth").at(-1)).toEqual({ type: "auth", token: "token-b" });
    vi.advanceTimersByTime(PING_INTERVAL_MS);
    expect(ws.framesOf("ping")).toHaveLength(1);
    ws.serverSend({ type: "error", code: "TOKEN_INVALID", error: "nope" });
    expect(live).toEqual([true, false]);
    ws.serverClose(1006);
    expect(socket.state).toBe("reconnecting");
    socket.close();
  });

  it("waits the longest backoff after 4429 (too many pages open)", () => {
    const { ws, socket } = open();
    ws.serverOpen();
    ws.serverClose(MeCloseCode.TOO_MANY_SOCKETS);
    vi.advanceTimersByTime(BACKOFF_MAX_MS - 1);
    expect(FakeWebSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeWebSocket.instances).toHaveLength(2);
    socket.close();
  });

  it("parses its frames and ignores the rest", () => {
    const n = streamStarted(1);
    expect(parseMeFrame(JSON.stringify({ type: "notification", notification: n, new: true }))).toEqual({
      type: "notification",
      notification: n,
      new: true,
    });
    expect(parseMeFrame(JSON.stringify({ type: "notifications.read", unread: 3 }))).toEqual({ type: "notifications.read", unread: 3 });
    expect(parseMeFrame(JSON.stringify({ type: "notifications.read", unread: -1 }))).toBeNull();
    expect(parseMeFrame(JSON.stringify({ type: "notification", notification: { ...n, payload: "x" }, new: true }))).toBeNull();
    expect(parseMeFrame(JSON.stringify({ type: "hello" }))).toBeNull();
    expect(parseMeFrame("{")).toBeNull();
    expect(parseMeFrame(new ArrayBuffer(2))).toBeNull();
  });
});
