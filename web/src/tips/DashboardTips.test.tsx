// The dashboard's money: the live stream's running tip total and recent tips, the payouts card, and the
// pages Stripe's onboarding comes back to.
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Earnings, PayoutStatus } from "../api/tips";
import { resetSessionForTests, setAuthenticated } from "../auth/session";
import { hello } from "../test/chat";
import { FakeWebSocket } from "../test/fakeWebSocket";
import { alice, errorBody, json, stubFetch } from "../test/http";
import { renderApp } from "../test/render";
import { makeHealth, makeStream, page, STREAM_ID } from "../test/streams";
import { emptyEarnings, makeEarnings, makePayouts, tipFrame, txId } from "../test/tips";

function dashboardServer({ live = true, payouts = makePayouts(), earnings = emptyEarnings() }: { live?: boolean; payouts?: PayoutStatus | Response; earnings?: Earnings } = {}) {
  const state = { payouts, earnings, earningsCalls: [] as string[], onboards: 0 };
  const stub = stubFetch({
    "GET /api/streams": () => json(200, page(live ? [makeStream()] : [])),
    "GET /api/users/me/stream-key": () => json(200, { stream_key: "k", rtmp_url: "rtmp://localhost/live", created_at: "2026-03-01T00:00:00Z" }),
    [`GET /api/streams/${STREAM_ID}/health`]: () => json(200, makeHealth()),
    [`GET /api/streams/${STREAM_ID}/moderators`]: () => json(200, { items: [] }),
    [`GET /api/streams/${STREAM_ID}/bans`]: () => json(200, { items: [] }),
    "GET /api/archives": () => json(200, { items: [], next_cursor: null }),
    "GET /api/schedules": () => json(200, { items: [] }),
    "GET /api/notifications/unread-count": () => json(200, { unread: 0 }),
    "GET /api/users/me/payouts": () => (state.payouts instanceof Response ? state.payouts : json(200, state.payouts)),
    "GET /api/users/me/earnings": (req) => {
      state.earningsCalls.push(new URL(req.url).search);
      return json(200, state.earnings);
    },
    "POST /api/users/me/payouts/onboard": () => {
      state.onboards += 1;
      return json(200, { url: `https://connect.stripe.test/setup/${state.onboards}` });
    },
  });
  return { state, ...stub };
}

function stubAssign() {
  const assign = vi.fn();
  vi.stubGlobal("location", { ...window.location, assign, origin: window.location.origin, href: window.location.href });
  return assign;
}

describe("dashboard: tips while live", () => {
  beforeEach(() => {
    resetSessionForTests();
    setAuthenticated("token-a", alice);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    resetSessionForTests();
  });

  it("starts the running total from the stream's earnings and adds tip frames as they arrive, per currency", async () => {
    const server = dashboardServer({ earnings: makeEarnings() });
    renderApp("/dashboard");
    const card = await screen.findByTestId("stream-tips");
    expect(await within(card).findByTestId("stream-tip-total-JPY")).toHaveTextContent("¥1,600");
    expect(server.state.earningsCalls).toContain(`?stream_id=${STREAM_ID}`);

    const ws = FakeWebSocket.streamSockets().at(-1)!;
    ws.serverOpen();
    // The history's tips are already in the server's total: not added again.
    ws.serverSend(hello({ history: [tipFrame({ transaction_id: txId(1) }) as never] }));
    expect(within(card).getByTestId("stream-tip-total-JPY")).toHaveTextContent("¥1,600");

    ws.serverSend(tipFrame({ transaction_id: txId(7), amount: 500, message: "one more" }));
    ws.serverSend(tipFrame({ transaction_id: txId(7), amount: 500 })); // the same tip twice
    ws.serverSend(tipFrame({ transaction_id: txId(8), amount: 1250, currency: "USD", user: null, message: null }));
    expect(within(card).getByTestId("stream-tip-total-JPY")).toHaveTextContent("¥2,100");
    expect(within(card).getByTestId("stream-tip-total")).toHaveTextContent("from 4 tips");
    expect(within(card).getByTestId("stream-tip-total-USD")).toHaveTextContent("$12.50");

    // Newest first, from the chat (history included).
    const recent = within(card).getAllByTestId("recent-tip");
    expect(recent.map((r) => r.textContent)).toEqual([
      expect.stringContaining("$12.50Someone"),
      expect.stringContaining("¥500@bob"),
      expect.stringContaining("¥500@bob"),
    ]);
    expect(recent[1]).toHaveTextContent("one more");
  });

  it("asks the server again shortly after a tip, and then counts it once", async () => {
    const server = dashboardServer({ earnings: emptyEarnings() });
    renderApp("/dashboard");
    const card = await screen.findByTestId("stream-tips");
    expect(await within(card).findByTestId("stream-tip-total")).toHaveTextContent("No tips yet this stream.");
    const ws = FakeWebSocket.streamSockets().at(-1)!;
    ws.serverOpen();
    ws.serverSend(hello());
    ws.serverSend(tipFrame({ transaction_id: txId(9), amount: 300 }));
    expect(within(card).getByTestId("stream-tip-total-JPY")).toHaveTextContent("¥300");

    // By now the server counts it too.
    const one = { count: 1, amount: 300 };
    const none = { count: 0, amount: 0 };
    server.state.earnings = {
      ...emptyEarnings(),
      currencies: [{ currency: "JPY", succeeded: one, pending: none, failed: none, refunded: none, disputed: none, fees: 30, net: 270 }],
    };
    const before = server.state.earningsCalls.length;
    await waitFor(() => expect(server.state.earningsCalls.length).toBeGreaterThan(before), { timeout: 4000 });
    await waitFor(() => expect(within(card).getByTestId("stream-tip-total")).toHaveTextContent("from 1 tip"));
    expect(within(card).getByTestId("stream-tip-total-JPY")).toHaveTextContent("¥300");
  });
});

describe("dashboard: tips off", () => {
  beforeEach(() => {
    resetSessionForTests();
    setAuthenticated("token-a", alice);
  });
  afterEach(() => resetSessionForTests());

  it("shows no running total and says tips are off", async () => {
    dashboardServer({ payouts: makePayouts({ provider: null, status: "disabled" }) });
    renderApp("/dashboard");
    const card = await screen.findByTestId("payouts-card");
    expect(await within(card).findByTestId("payouts-status")).toHaveTextContent("Tips are off");
    expect(screen.getByTestId("live-panel")).toBeInTheDocument();
    expect(screen.queryByTestId("stream-tips")).not.toBeInTheDocument();
  });
});

describe("dashboard: payouts card", () => {
  beforeEach(() => {
    resetSessionForTests();
    setAuthenticated("token-a", alice);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    resetSessionForTests();
  });

  it("says tips work without onboarding under test payments, with no button", async () => {
    dashboardServer({ live: false, payouts: makePayouts({ provider: "test", status: "not_needed", can_receive_tips: true }) });
    renderApp("/dashboard");
    const card = await screen.findByTestId("payouts-card");
    expect(await within(card).findByTestId("payouts-status")).toHaveTextContent("Ready for tips");
    expect(within(card).getByTestId("payouts-text")).toHaveTextContent("this server uses test payments");
    expect(within(card).queryByTestId("payouts-onboard")).not.toBeInTheDocument();
    expect(within(card).getByRole("link", { name: "See your earnings" })).toHaveAttribute("href", "/earnings");
    expect(screen.getByTestId("earnings-link")).toHaveAttribute("href", "/earnings");
  });

  it("sets up payouts with Stripe: asks for a link and goes there", async () => {
    const assign = stubAssign();
    const server = dashboardServer({ live: false, payouts: makePayouts() });
    const user = userEvent.setup();
    renderApp("/dashboard");
    const card = await screen.findByTestId("payouts-card");
    expect(await within(card).findByTestId("payouts-status")).toHaveTextContent("Not set up");
    await user.click(within(card).getByRole("button", { name: "Set up payouts" }));
    await waitFor(() => expect(assign).toHaveBeenCalledWith("https://connect.stripe.test/setup/1"));
    expect(server.state.onboards).toBe(1);
    expect(within(card).getByTestId("payouts-onboard")).toHaveTextContent("Opening Stripe…");
  });

  it("shows each Stripe state, and the onboarding error", async () => {
    const server = dashboardServer({ live: false, payouts: makePayouts({ status: "pending", details_submitted: false }) });
    const user = userEvent.setup();
    const view = renderApp("/dashboard");
    let card = await screen.findByTestId("payouts-card");
    expect(await within(card).findByTestId("payouts-status")).toHaveTextContent("Onboarding not finished");
    expect(within(card).getByRole("button", { name: "Continue onboarding" })).toBeInTheDocument();
    view.unmount();

    server.state.payouts = makePayouts({ status: "enabled", can_receive_tips: true, details_submitted: true, payouts_enabled: true });
    const enabled = renderApp("/dashboard");
    card = await screen.findByTestId("payouts-card");
    expect(await within(card).findByTestId("payouts-status")).toHaveTextContent("Payouts on");
    expect(within(card).queryByTestId("payouts-onboard")).not.toBeInTheDocument();
    enabled.unmount();

    server.state.payouts = makePayouts({ status: "restricted", can_receive_tips: false, details_submitted: true });
    renderApp("/dashboard");
    card = await screen.findByTestId("payouts-card");
    expect(await within(card).findByTestId("payouts-status")).toHaveTextContent("Action needed");
    expect(within(card).getByTestId("payouts-text")).toHaveTextContent("before you can receive tips again");
    // The server refuses (e.g. tips were just turned off): said on the card.
    const onboard = "POST /api/users/me/payouts/onboard";
    stubFetch({
      "GET /api/users/me/payouts": () => json(200, server.state.payouts),
      [onboard]: () => errorBody(503, "PAYMENTS_DISABLED", "Tips are turned off on this server"),
    });
    await user.click(within(card).getByRole("button", { name: "Continue onboarding" }));
    expect(await within(card).findByRole("alert")).toHaveTextContent("Tips are turned off on this server");
  });

  it("the return page asks again and says where things stand", async () => {
    dashboardServer({ live: false, payouts: makePayouts({ status: "enabled", can_receive_tips: true, details_submitted: true, payouts_enabled: true }) });
    renderApp("/dashboard/payouts/return");
    const pageEl = await screen.findByTestId("payouts-return");
    expect(await within(pageEl).findByText("You are all set: viewers can tip you now.")).toBeInTheDocument();
    expect(within(pageEl).getByTestId("payouts-status")).toHaveTextContent("Payouts on");
    expect(within(pageEl).getByRole("link", { name: "Back to the dashboard" })).toHaveAttribute("href", "/dashboard");
  });

  it("the return page offers to continue when onboarding is not finished", async () => {
    dashboardServer({ live: false, payouts: makePayouts({ status: "pending" }) });
    renderApp("/dashboard/payouts/return");
    const pageEl = await screen.findByTestId("payouts-return");
    expect(await within(pageEl).findByText("You cannot receive tips yet.")).toBeInTheDocument();
    expect(within(pageEl).getByRole("button", { name: "Continue onboarding" })).toBeInTheDocument();
  });

  it("the refresh page gets a new link and goes there, once", async () => {
    const assign = stubAssign();
    const server = dashboardServer({ live: false });
    renderApp("/dashboard/payouts/refresh");
    await waitFor(() => expect(assign).toHaveBeenCalledWith("https://connect.stripe.test/setup/1"));
    expect(server.state.onboards).toBe(1);
  });

  it("the refresh page says why when there is no link", async () => {
    stubAssign();
    stubFetch({
      "GET /api/notifications/unread-count": () => json(200, { unread: 0 }),
      "POST /api/users/me/payouts/onboard": () => errorBody(409, "ONBOARDING_NOT_NEEDED", "This server uses test payments: no onboarding needed"),
    });
    renderApp("/dashboard/payouts/refresh");
    expect(await screen.findByRole("alert")).toHaveTextContent("Could not get a new onboarding link: This server uses test payments");
  });
});
