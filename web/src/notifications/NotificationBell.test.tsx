// The header's notification bell.
import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { UNREAD_POLL_MS } from "../api/notifications";
import { clearSession, resetSessionForTests, setAuthenticated } from "../auth/session";
import { alice, errorBody, json, stubFetch } from "../test/http";
import { archiveReady, newFollowers, notifId, notifPage, streamStarted } from "../test/notifications";
import { renderApp } from "../test/render";
import { STREAM_ID } from "../test/streams";

// /settings/profile needs nothing from the API but the header's own calls.
const PAGE = "/settings/profile";
const countCalls = (calls: Request[]) =>
  calls.filter((c) => new URL(c.url).pathname === "/api/notifications/unread-count").length;

describe("notification bell", () => {
  beforeEach(() => {
    resetSessionForTests();
    setAuthenticated("token-a", alice);
  });
  afterEach(() => {
    vi.useRealTimers();
    resetSessionForTests();
  });

  it("is not there for anyone signed out", async () => {
    clearSession();
    const { calls } = stubFetch({});
    renderApp("/login");
    expect(await screen.findByRole("link", { name: "Log in" })).toBeInTheDocument();
    expect(screen.queryByTestId("notification-bell")).not.toBeInTheDocument();
    expect(calls).toHaveLength(0);
  });

  it("shows the unread count, hides it at 0 and caps it at 99+", async () => {
    let unread = 3;
    stubFetch({ "GET /api/notifications/unread-count": () => json(200, { unread }) });
    const view = renderApp(PAGE);
    expect(await screen.findByTestId("notification-badge")).toHaveTextContent("3");
    expect(screen.getByTestId("notification-bell")).toHaveAccessibleName("Notifications, 3 unread");
    view.unmount();

    unread = 0;
    const zero = renderApp(PAGE);
    const bell = await screen.findByTestId("notification-bell");
    await waitFor(() => expect(bell).toHaveAccessibleName("Notifications"));
    expect(screen.queryByTestId("notification-badge")).not.toBeInTheDocument();
    zero.unmount();

    unread = 250;
    renderApp(PAGE);
    expect(await screen.findByTestId("notification-badge")).toHaveTextContent("99+");
  });

  it("shows no badge, and no error, when the count cannot be had", async () => {
    stubFetch({ "GET /api/notifications/unread-count": () => errorBody(403, "FORBIDDEN", "Nope") });
    renderApp(PAGE);
    const bell = await screen.findByTestId("notification-bell");
    expect(bell).toHaveAccessibleName("Notifications");
    expect(screen.queryByTestId("notification-badge")).not.toBeInTheDocument();
  });

  it("polls the count every 30 s while the tab is visible, and on window focus", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    let unread = 1;
    const { calls } = stubFetch({ "GET /api/notifications/unread-count": () => json(200, { unread }) });
    renderApp(PAGE);
    await waitFor(() => expect(screen.getByTestId("notification-badge")).toHaveTextContent("1"));
    expect(countCalls(calls)).toBe(1);

    unread = 4;
    await act(() => vi.advanceTimersByTimeAsync(UNREAD_POLL_MS + 100));
    expect(countCalls(calls)).toBe(2);
    await waitFor(() => expect(screen.getByTestId("notification-badge")).toHaveTextContent("4"));

    unread = 6;
    fireEvent.focus(window);
    await waitFor(() => expect(screen.getByTestId("notification-badge")).toHaveTextContent("6"));
    expect(countCalls(calls)).toBe(3);

    // A hidden tab is not polled.
    const visibility = vi.spyOn(document, "visibilityState", "get").mockReturnValue("hidden");
    act(() => {
      document.dispatchEvent(new Event("visibilitychange"));
    });
    await act(() => vi.advanceTimersByTimeAsync(UNREAD_POLL_MS * 3));
    expect(countCalls(calls)).toBe(3);
    visibility.mockRestore();
  });

  it("lists the latest 10 with what each is about and when", async () => {
    const { calls } = stubFetch({
      "GET /api/notifications/unread-count": () => json(200, { unread: 2 }),
      "GET /api/notifications": () =>
        json(
          200,
          notifPage([
            streamStarted(1),
            archiveReady(90, { read_at: new Date().toISOString() }),
            newFollowers(60 * 24 * 20, ["Carol", "Dan"], 5),
          ]),
        ),
    });
    const user = userEvent.setup();
    renderApp(PAGE);
    await user.click(await screen.findByTestId("notification-bell"));
    const panel = await screen.findByTestId("notification-panel");
    await waitFor(() => expect(within(panel).getAllByTestId("notification")).toHaveLength(3));
    const [live, replay, followers] = within(panel).getAllByTestId("notification");
    expect(live).toHaveTextContent("Bob the Streamer is live: Stream 1");
    expect(live).toHaveTextContent("1 min ago");
    expect(live).toHaveAttribute("data-unread", "true");
    expect(replay).toHaveTextContent("Your replay of Synth build is ready");
    expect(replay).toHaveTextContent("1 h ago");
    expect(replay).toHaveAttribute("data-unread", "false");
    expect(followers).toHaveTextContent("Carol, Dan and 3 others followed you");
    expect(followers).toHaveTextContent("20 days ago");
    expect(within(followers!).getByRole("link")).toHaveAttribute("href", "/u/alice/followers");
    expect(within(panel).getByRole("link", { name: "See all notifications" })).toHaveAttribute("href", "/notifications");

    const list = calls.find((c) => new URL(c.url).pathname === "/api/notifications")!;
    expect(new URL(list.url).searchParams.get("limit")).toBe("10");
  });

  it("marks one read when it is clicked, and opens what it is about", async () => {
    let unread = 1;
    const { calls } = stubFetch({
      "GET /api/notifications/unread-count": () => json(200, { unread }),
      "GET /api/notifications": () => json(200, notifPage([streamStarted(1)])),
      [`POST /api/notifications/${notifId(1)}/read`]: () => {
        unread = 0;
        return json(200, streamStarted(1, { read_at: new Date().toISOString() }));
      },
      [`GET /api/streams/${STREAM_ID}`]: () => new Promise<Response>(() => {}),
    });
    const user = userEvent.setup();
    const { router } = renderApp(PAGE);
    await user.click(await screen.findByTestId("notification-bell"));
    await user.click(await screen.findByRole("link", { name: /Bob the Streamer is live: Stream 1/ }));

    expect(router.state.location.pathname).toBe(`/watch/${STREAM_ID}`);
    await waitFor(() => expect(calls.some((c) => c.method === "POST" && c.url.endsWith(`/api/notifications/${notifId(1)}/read`))).toBe(true));
    await waitFor(() => expect(screen.queryByTestId("notification-badge")).not.toBeInTheDocument());
    expect(screen.queryByTestId("notification-panel")).not.toBeInTheDocument();
  });

  it("marks all as read", async () => {
    let unread = 2;
    const { calls } = stubFetch({
      "GET /api/notifications/unread-count": () => json(200, { unread }),
      "GET /api/notifications": () =>
        json(200, notifPage(unread ? [streamStarted(1), archiveReady(2)] : [streamStarted(1, { read_at: "2026-03-04T20:00:00Z" })])),
      "POST /api/notifications/read-all": () => {
        unread = 0;
        return json(200, { marked: 2 });
      },
    });
    const user = userEvent.setup();
    renderApp(PAGE);
    expect(await screen.findByTestId("notification-badge")).toHaveTextContent("2");
    await user.click(screen.getByTestId("notification-bell"));
    await waitFor(() => expect(screen.getAllByTestId("notification")).toHaveLength(2));
    await user.click(screen.getByRole("button", { name: "Mark all as read" }));

    await waitFor(() => expect(screen.queryByTestId("notification-badge")).not.toBeInTheDocument());
    await waitFor(() =>
      expect(screen.getAllByTestId("notification").every((n) => n.getAttribute("data-unread") === "false")).toBe(true),
    );
    expect(calls.filter((c) => c.method === "POST")).toHaveLength(1);
    expect(screen.getByRole("button", { name: "Mark all as read" })).toBeDisabled();
  });

  it("says so when the list or mark-all fails", async () => {
    let listFails = true;
    stubFetch({
      "GET /api/notifications/unread-count": () => json(200, { unread: 1 }),
      "GET /api/notifications": () =>
        listFails ? errorBody(400, "VALIDATION_ERROR", "limit is out of range") : json(200, notifPage([streamStarted(1)])),
      "POST /api/notifications/read-all": () => errorBody(400, "BAD", "Could not mark them read."),
    });
    const user = userEvent.setup();
    renderApp(PAGE);
    await user.click(await screen.findByTestId("notification-bell"));
    expect(await within(screen.getByTestId("notification-panel")).findByRole("alert")).toHaveTextContent("limit is out of range");

    listFails = false;
    await user.click(screen.getByTestId("notification-bell")); // close
    await user.click(screen.getByTestId("notification-bell")); // open again: asks again
    await waitFor(() => expect(screen.getAllByTestId("notification")).toHaveLength(1));
    await user.click(screen.getByRole("button", { name: "Mark all as read" }));
    expect(await within(screen.getByTestId("notification-panel")).findByRole("alert")).toHaveTextContent("Could not mark them read.");
    expect(screen.getByTestId("notification-badge")).toHaveTextContent("1");
    expect(screen.getByTestId("notification")).toHaveAttribute("data-unread", "true");
  });

  it("says when there are none", async () => {
    stubFetch({
      "GET /api/notifications/unread-count": () => json(200, { unread: 0 }),
      "GET /api/notifications": () => json(200, notifPage([])),
    });
    const user = userEvent.setup();
    renderApp(PAGE);
    await user.click(await screen.findByTestId("notification-bell"));
    expect(await screen.findByText("No notifications yet.")).toBeInTheDocument();
  });
});
