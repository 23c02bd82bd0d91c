// The header's bell, live over /ws/me: the count moves without a fetch, lists refetch, other tabs' reads
// arrive, and the poll slows down while the socket is live and falls back to 30 s when it is not.
import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { UNREAD_POLL_MS, UNREAD_SLOW_POLL_MS } from "../api/notifications";
import { clearSession, resetSessionForTests, setAuthenticated } from "../auth/session";
import { FakeWebSocket } from "../test/fakeWebSocket";
import { alice, json, stubFetch, tokens } from "../test/http";
import { notifPage, streamStarted } from "../test/notifications";
import { renderApp } from "../test/render";

const PAGE = "/settings/profile";
const countCalls = (calls: Request[]) =>
  calls.filter((c) => new URL(c.url).pathname === "/api/notifications/unread-count").length;
const listCalls = (calls: Request[]) => calls.filter((c) => new URL(c.url).pathname === "/api/notifications").length;

function meSocket(): FakeWebSocket {
  const sockets = FakeWebSocket.instances.filter((ws) => ws.url.endsWith("/ws/me"));
  const ws = sockets.at(-1);
  if (!ws) throw new Error("the bell opened no /ws/me socket");
  return ws;
}

const authOk = (unread: number) => ({ type: "auth.ok", user: { user_id: alice.user_id, username: alice.username }, unread });

async function liveBell(unread: number): Promise<FakeWebSocket> {
  await waitFor(() => expect(FakeWebSocket.instances.some((ws) => ws.url.endsWith("/ws/me"))).toBe(true));
  const ws = meSocket();
  ws.serverOpen();
  expect(ws.framesOf("auth")).toEqual([{ type: "auth", token: "token-a" }]);
  ws.serverSend(authOk(unread));
  await waitFor(() => expect(screen.getByTestId("notification-bell")).toHaveAttribute("data-live", "true"));
  return ws;
}

describe("notification bell, live", () => {
  beforeEach(() => {
    resetSessionForTests();
    setAuthenticated("token-a", alice);
  });
  afterEach(() => {
    vi.useRealTimers();
    resetSessionForTests();
  });

  it("opens /ws/me on the page's host, signs in with the token by frame, takes the count from auth.ok", async () => {
    const { calls } = stubFetch({ "GET /api/notifications/unread-count": () => json(200, { unread: 1 }) });
    renderApp(PAGE);
    expect(await screen.findByTestId("notification-badge")).toHaveTextContent("1");
    const ws = await liveBell(4);
    expect(ws.url).toBe("ws://localhost:3000/ws/me");
    expect(ws.url).not.toContain("token-a");
    await waitFor(() => expect(screen.getByTestId("notification-badge")).toHaveTextContent("4"));
    expect(countCalls(calls)).toBe(1);
  });

  it("counts a new notification up at once, without asking the server, and refetches an open list", async () => {
    let items = [streamStarted(2)];
    const { calls } = stubFetch({
      "GET /api/notifications/unread-count": () => json(200, { unread: 1 }),
      "GET /api/notifications": () => json(200, notifPage(items)),
    });
    const user = userEvent.setup();
    renderApp(PAGE);
    const ws = await liveBell(1);
    await user.click(screen.getByTestId("notification-bell"));
    const panel = await screen.findByTestId("notification-panel");
    await waitFor(() => expect(within(panel).getAllByTestId("notification")).toHaveLength(1));
    const listsBefore = listCalls(calls);
    const countsBefore = countCalls(calls);

    const fresh = streamStarted(1, { created_at: new Date().toISOString() });
    items = [fresh, ...items];
    ws.serverSend({ type: "notification", notification: fresh, new: true });
    await waitFor(() => expect(screen.getByTestId("notification-badge")).toHaveTextContent("2"));
    await waitFor(() => expect(within(panel).getAllByTestId("notification")).toHaveLength(2));
    expect(listCalls(calls)).toBe(listsBefore + 1);

    // An update of an unread one ("3 new followers" counting up) refreshes the list, not the count.
    ws.serverSend({ type: "notification", notification: { ...fresh, payload: { ...fresh.payload } }, new: false });
    await waitFor(() => expect(listCalls(calls)).toBe(listsBefore + 2));
    expect(screen.getByTestId("notification-badge")).toHaveTextContent("2");
    // Frames it does not understand change nothing.
    ws.serverSend({ type: "notification", notification: { kind: "stream_started" }, new: true });
    ws.serverSend("not json");
    expect(screen.getByTestId("notification-badge")).toHaveTextContent("2");
    expect(countCalls(calls)).toBe(countsBefore);
  });

  it("shows what another tab read", async () => {
    stubFetch({ "GET /api/notifications/unread-count": () => json(200, { unread: 3 }) });
    renderApp(PAGE);
    const ws = await liveBell(3);
    expect(screen.getByTestId("notification-badge")).toHaveTextContent("3");
    ws.serverSend({ type: "notifications.read", unread: 0 });
    await waitFor(() => expect(screen.queryByTestId("notification-badge")).not.toBeInTheDocument());
    expect(screen.getByTestId("notification-bell")).toHaveAccessibleName("Notifications");
  });

  it("polls slowly while live, every 30 s once the socket drops, and reconnects with the count", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let unread = 1;
    const { calls } = stubFetch({ "GET /api/notifications/unread-count": () => json(200, { unread }) });
    renderApp(PAGE);
    await waitFor(() => expect(screen.getByTestId("notification-badge")).toHaveTextContent("1"));
    const ws = await liveBell(1);
    const live = countCalls(calls);
    await act(() => vi.advanceTimersByTimeAsync(UNREAD_POLL_MS + 100));
    expect(countCalls(calls)).toBe(live);
    await act(() => vi.advanceTimersByTimeAsync(UNREAD_SLOW_POLL_MS));
    expect(countCalls(calls)).toBe(live + 1);

    // The connection drops: the bell says it is not live, and the 30 s poll is back.
    ws.serverClose(1006);
    await waitFor(() => expect(screen.getByTestId("notification-bell")).toHaveAttribute("data-live", "false"));
    unread = 5;
    const dropped = countCalls(calls);
    await act(() => vi.advanceTimersByTimeAsync(UNREAD_POLL_MS + 100));
    expect(countCalls(calls)).toBeGreaterThan(dropped);
    await waitFor(() => expect(screen.getByTestId("notification-badge")).toHaveTextContent("5"));

    // It comes back by itself, and the count in its auth.ok covers whatever it missed.
    await waitFor(() => expect(FakeWebSocket.instances.filter((s) => s.url.endsWith("/ws/me")).length).toBe(2));
    const again = meSocket();
    again.serverOpen();
    again.serverSend(authOk(7));
    await waitFor(() => expect(screen.getByTestId("notification-badge")).toHaveTextContent("7"));
  });

  it("refreshes the token once when the server refuses it, and signs in again", async () => {
    let refreshed = 0;
    stubFetch({
      "GET /api/notifications/unread-count": () => json(200, { unread: 0 }),
      "POST /api/auth/refresh": () => {
        refreshed += 1;
        return json(200, tokens("token-b"));
      },
    });
    renderApp(PAGE);
    const ws = await liveBell(0);
    ws.serverSend({ type: "error", code: "UNAUTHENTICATED", error: "Your access token expired; send a fresh one" });
    await waitFor(() => expect(screen.getByTestId("notification-bell")).toHaveAttribute("data-live", "false"));
    await waitFor(() => expect(ws.framesOf("auth").at(-1)).toEqual({ type: "auth", token: "token-b" }));
    expect(refreshed).toBe(1);
    ws.serverSend(authOk(2));
    await waitFor(() => expect(screen.getByTestId("notification-badge")).toHaveTextContent("2"));
  });

  it("closes the socket when the user signs out", async () => {
    stubFetch({
      "GET /api/notifications/unread-count": () => json(200, { unread: 0 }),
      "POST /api/auth/logout": () => new Response(null, { status: 204 }),
    });
    renderApp(PAGE);
    const ws = await liveBell(0);
    act(() => clearSession());
    await waitFor(() => expect(ws.closedWith).toBe(1000));
    expect(screen.queryByTestId("notification-bell")).not.toBeInTheDocument();
  });
});
