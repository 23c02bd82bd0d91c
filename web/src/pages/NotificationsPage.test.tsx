// The full notifications page.
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearSession, resetSessionForTests, setAuthenticated } from "../auth/session";
import { alice, errorBody, json, stubFetch } from "../test/http";
import { archiveReady, newFollowers, notifId, notifPage, streamStarted } from "../test/notifications";

import { renderApp } from "../test/render";

const listCalls = (calls: Request[]) =>
  calls.filter((c) => c.method === "GET" && new URL(c.url).pathname === "/api/notifications").map((c) => new URL(c.url).searchParams);

describe("notifications page", () => {
  beforeEach(() => {
    resetSessionForTests();
    setAuthenticated("token-a", alice);
  });
  afterEach(() => resetSessionForTests());

  it("sends anyone signed out to log in", async () => {
    clearSession();
    stubFetch({});
    const { router } = renderApp("/notifications");
    await waitFor(() => expect(router.state.location.pathname).toBe("/login"));
    expect(router.state.location.search).toBe("?next=%2Fnotifications");
  });

  it("loads more with the cursor, and shows only the unread ones when asked", async () => {
    const { calls } = stubFetch({
      "GET /api/notifications/unread-count": () => json(200, { unread: 2 }),
      "GET /api/notifications": (req) => {
        const q = new URL(req.url).searchParams;
        if (q.get("unread") === "true") return json(200, notifPage([streamStarted(1)]));
        return q.get("cursor") === "c2"
          ? json(200, notifPage([newFollowers(3, ["Carol"], 1, { read_at: "2026-03-04T20:00:00Z" })]))
          : json(200, notifPage([streamStarted(1), archiveReady(2)], "c2"));
      },
    });
    const user = userEvent.setup();
    renderApp("/notifications");
    const main = await screen.findByRole("main");
    await waitFor(() => expect(within(main).getAllByTestId("notification")).toHaveLength(2));
    await user.click(within(main).getByRole("button", { name: "Load more" }));
    await waitFor(() => expect(within(main).getAllByTestId("notification")).toHaveLength(3));
    expect(within(main).getAllByTestId("notification")[2]).toHaveTextContent("Carol followed you");
    expect(within(main).queryByRole("button", { name: "Load more" })).not.toBeInTheDocument();

    await user.click(within(main).getByRole("switch", { name: "Unread only" }));
    await waitFor(() => expect(within(main).getAllByTestId("notification")).toHaveLength(1));
    expect(within(main).getByTestId("notification")).toHaveTextContent("Bob the Streamer is live: Stream 1");

    const lists = listCalls(calls);
    expect(lists.map((q) => [q.get("cursor"), q.get("unread"), q.get("limit")])).toEqual([
      [null, null, "20"],
      ["c2", null, "20"],
      [null, "true", "20"],
    ]);
  });

  it("marks one read when it is clicked, and follows its link", async () => {
    let unread = 1;
    const { calls } = stubFetch({
      "GET /api/notifications/unread-count": () => json(200, { unread }),
      "GET /api/notifications": () => json(200, notifPage([newFollowers(1, ["Carol", "Dan"], 2)])),
      [`POST /api/notifications/${notifId(1)}/read`]: () => {
        unread = 0;
        return json(200, newFollowers(1, ["Carol", "Dan"], 2, { read_at: new Date().toISOString() }));
      },
      "GET /api/users/by-username/alice": () => json(200, alice),
      [`GET /api/users/${alice.user_id}/followers`]: () => json(200, { items: [], next_cursor: null }),
    });
    const user = userEvent.setup();
    const { router } = renderApp("/notifications");
    const main = await screen.findByRole("main");
    await user.click(await within(main).findByRole("link", { name: /Carol and Dan followed you/ }));
    expect(router.state.location.pathname).toBe("/u/alice/followers");
    await waitFor(() => expect(calls.filter((c) => c.method === "POST")).toHaveLength(1));
    await waitFor(() => expect(screen.queryByTestId("notification-badge")).not.toBeInTheDocument());
  });

  it("does not mark again one that is already read", async () => {
    const { calls } = stubFetch({
      "GET /api/notifications/unread-count": () => json(200, { unread: 0 }),
      "GET /api/notifications": () => json(200, notifPage([archiveReady(1, { read_at: "2026-03-04T20:00:00Z" })])),
      "GET /api/streams/5e1f0c2a-0000-4000-8000-00000000a0ff": () => new Promise<Response>(() => {}),
    });
    const user = userEvent.setup();
    const { router } = renderApp("/notifications");
    await user.click(await within(await screen.findByRole("main")).findByRole("link", { name: /Your replay of Synth build is ready/ }));
    expect(router.state.location.pathname).toBe("/watch/5e1f0c2a-0000-4000-8000-00000000a0ff");
    expect(calls.filter((c) => c.method === "POST")).toHaveLength(0);
  });

  it("says when there are none, and when none are unread", async () => {
    stubFetch({
      "GET /api/notifications/unread-count": () => json(200, { unread: 0 }),
      "GET /api/notifications": () => json(200, notifPage([])),
    });
    const user = userEvent.setup();
    renderApp("/notifications");
    expect(await screen.findByText("No notifications yet.")).toBeInTheDocument();
    await user.click(screen.getByRole("switch", { name: "Unread only" }));
    expect(await screen.findByText("No unread notifications.")).toBeInTheDocument();
  });

  it("says what went wrong when they cannot be loaded", async () => {
    stubFetch({
      "GET /api/notifications/unread-count": () => json(200, { unread: 0 }),
      "GET /api/notifications": () => errorBody(400, "INVALID_CURSOR", "That page no longer exists."),
    });
    renderApp("/notifications");
    expect(await screen.findByRole("alert")).toHaveTextContent("That page no longer exists.");
    expect(screen.queryByTestId("notification")).not.toBeInTheDocument();
  });

  it("marks all as read, and says so when that fails", async () => {
    let fail = true;
    let unread = 2;
    stubFetch({
      "GET /api/notifications/unread-count": () => json(200, { unread }),
      "GET /api/notifications": () => json(200, notifPage([streamStarted(1), archiveReady(2)].map((n) => (unread ? n : { ...n, read_at: "2026-03-04T20:00:00Z" })))),
      "POST /api/notifications/read-all": () => {
        if (fail) return errorBody(503, "UNAVAILABLE", "Try again in a moment.");
        unread = 0;
        return json(200, { marked: 2 });
      },
    });
    const user = userEvent.setup();
    renderApp("/notifications");
    const main = await screen.findByRole("main");
    await waitFor(() => expect(within(main).getAllByTestId("notification")).toHaveLength(2));
    await user.click(within(main).getByRole("button", { name: "Mark all as read" }));
    expect(await within(main).findByRole("alert")).toHaveTextContent("Try again in a moment.");

    fail = false;
    await user.click(within(main).getByRole("button", { name: "Mark all as read" }));
    await waitFor(() =>
      expect(within(main).getAllByTestId("notification").map((n) => n.getAttribute("data-unread"))).toEqual(["false", "false"]),
    );
    expect(within(main).queryByRole("alert")).not.toBeInTheDocument();
  });
});
