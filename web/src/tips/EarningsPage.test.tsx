// /earnings: totals, per stream and per month, the CSV download, received tips page by page, sent tips.
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { resetSessionForTests, setAuthenticated } from "../auth/session";
import { alice, errorBody, json, stubFetch } from "../test/http";
import { renderApp } from "../test/render";
import { STREAM_ID } from "../test/streams";
import { emptyEarnings, makeEarnings, makeTransaction, txId, txPage } from "../test/tips";
import { monthLabel } from "./EarningsPage";

const carolParty = { user_id: "c0c0c0c0-0000-4000-8000-00000000000c", username: "carol", display_name: "Carol" };

function earningsServer() {
  const state = { transactionQueries: [] as string[], csvAuth: [] as (string | null)[] };
  const received = [1, 2, 3].map((n) =>
    makeTransaction({ transaction_id: txId(n), status: "succeeded", amount: 500 * n, message: n === 1 ? "Great stream!" : null }),
  );
  const stub = stubFetch({
    "GET /api/notifications/unread-count": () => json(200, { unread: 0 }),
    "GET /api/users/me/earnings": () =>
      json(
        200,
        makeEarnings({
          currencies: [
            ...makeEarnings().currencies,
            {
              currency: "USD",
              succeeded: { count: 1, amount: 1250 },
              pending: { count: 0, amount: 0 },
              failed: { count: 0, amount: 0 },
              refunded: { count: 0, amount: 0 },
              disputed: { count: 1, amount: 500 },
              fees: 125,
              net: 1125,
            },
          ],
        }),
      ),
    "GET /api/transactions": (req) => {
      const q = new URL(req.url).searchParams;
      state.transactionQueries.push(q.toString());
      if (q.get("role") === "sent") {
        return json(200, txPage([makeTransaction({ transaction_id: txId(50), status: "failed", failure_code: "card_declined", recipient: carolParty, stream_id: null })]));
      }
      return q.get("cursor") === "c2" ? json(200, txPage([received[2]!])) : json(200, txPage(received.slice(0, 2), "c2"));
    },
    "GET /api/users/me/earnings.csv": (req) => {
      state.csvAuth.push(req.headers.get("Authorization"));
      return new Response("transaction_id,amount\n1,500\n", { status: 200, headers: { "Content-Type": "text/csv" } });
    },
  });
  return { state, ...stub };
}

describe("earnings page", () => {
  beforeEach(() => {
    resetSessionForTests();
    setAuthenticated("token-a", alice);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
    resetSessionForTests();
  });

  it("shows totals per currency: gross, fees, net, refunded, disputed", async () => {
    earningsServer();
    renderApp("/earnings");
    const totals = await screen.findByTestId("earnings-totals");
    const jpy = within(totals).getByTestId("totals-JPY");
    expect(within(jpy).getByTestId("gross")).toHaveTextContent("¥1,600");
    expect(within(jpy).getByTestId("fees")).toHaveTextContent("¥160");
    expect(within(jpy).getByTestId("net")).toHaveTextContent("¥1,440");
    expect(within(jpy).getByTestId("pending")).toHaveTextContent("¥500");
    expect(within(jpy).getByTestId("refunded")).toHaveTextContent("¥100");
    const usd = within(totals).getByTestId("totals-USD");
    expect(within(usd).getByTestId("gross")).toHaveTextContent("$12.50");
    expect(within(usd).getByTestId("net")).toHaveTextContent("$11.25");
    expect(within(usd).getByTestId("disputed")).toHaveTextContent("$5.00");
  });

  it("tables the earnings per stream (linked) and per month", async () => {
    earningsServer();
    renderApp("/earnings");
    const byStream = await screen.findByTestId("earnings-by-stream");
    const link = within(byStream).getByRole("link", { name: "Building a synth from scratch" });
    expect(link).toHaveAttribute("href", `/watch/${STREAM_ID}`);
    expect(within(byStream).getByRole("row", { name: /Building a synth/ })).toHaveTextContent("Mar 4, 2026");
    const byMonth = screen.getByTestId("earnings-by-month");
    expect(within(byMonth).getByRole("row", { name: /March 2026/ })).toHaveTextContent("¥1,600¥160¥1,440");
    expect(monthLabel("2026-12")).toBe("December 2026");
  });

  it("lists received tips, newest first, with Load more", async () => {
    const server = earningsServer();
    const user = userEvent.setup();
    renderApp("/earnings");
    const list = await screen.findByTestId("transactions-received");
    await waitFor(() => expect(within(list).getAllByTestId("transaction")).toHaveLength(2));
    const first = within(list).getAllByTestId("transaction")[0]!;
    expect(first).toHaveTextContent("¥500");
    expect(first).toHaveTextContent("from @bob");
    expect(first).toHaveTextContent("Succeeded");
    expect(first).toHaveTextContent("“Great stream!”");
    expect(first).toHaveTextContent("fee ¥50");
    await user.click(within(list).getByRole("button", { name: "Load more" }));
    await waitFor(() => expect(within(list).getAllByTestId("transaction")).toHaveLength(3));
    expect(within(list).queryByRole("button", { name: "Load more" })).not.toBeInTheDocument();
    expect(server.state.transactionQueries).toEqual(["role=received&limit=20", "role=received&limit=20&cursor=c2"]);
  });

  it("shows the tips you sent on their own tab", async () => {
    const server = earningsServer();
    const user = userEvent.setup();
    const { router } = renderApp("/earnings");
    await screen.findByTestId("transactions-received");
    await user.click(screen.getByRole("tab", { name: "Sent tips" }));
    expect(router.state.location.search).toBe("?tab=sent");
    expect(screen.getByRole("tab", { name: "Sent tips" })).toHaveAttribute("aria-selected", "true");
    const sent = await screen.findByTestId("transactions-sent");
    const row = await within(sent).findByTestId("transaction");
    expect(row).toHaveTextContent("to @carol");
    expect(row).toHaveTextContent("Failed");
    expect(screen.queryByTestId("earnings-totals")).not.toBeInTheDocument();
    expect(server.state.transactionQueries).toContain("role=sent&limit=20");
  });

  it("downloads the CSV with the access token and saves it as a file", async () => {
    const server = earningsServer();
    const createObjectURL = vi.fn(() => "blob:earnings");
    const revokeObjectURL = vi.fn();
    // jsdom has no object URLs.
    Object.assign(URL, { createObjectURL, revokeObjectURL });
    onTestFinished(() => {
      delete (URL as Partial<typeof URL>).createObjectURL;
      delete (URL as Partial<typeof URL>).revokeObjectURL;
    });
    const clicks: HTMLAnchorElement[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicks.push(this);
    });
    const user = userEvent.setup();
    renderApp("/earnings");
    await user.click(await screen.findByTestId("download-csv"));
    await waitFor(() => expect(clicks).toHaveLength(1));
    expect(server.state.csvAuth).toEqual(["Bearer token-a"]);
    expect(clicks[0]!.download).toBe("earnings.csv");
    expect(clicks[0]!.href).toBe("blob:earnings");
    const blob = (createObjectURL.mock.calls[0] as unknown as [Blob])[0];
    expect(await blob.text()).toBe("transaction_id,amount\n1,500\n");
  });

  it("says nothing has been earned yet, and shows a CSV error", async () => {
    stubFetch({
      "GET /api/notifications/unread-count": () => json(200, { unread: 0 }),
      "GET /api/users/me/earnings": () => json(200, emptyEarnings()),
      "GET /api/transactions": () => json(200, txPage([])),
      "GET /api/users/me/earnings.csv": () => errorBody(429, "RATE_LIMITED", "Too many exports", { retry_after: 30 }),
    });
    const user = userEvent.setup();
    renderApp("/earnings");
    expect(await screen.findByText("No earnings yet.")).toBeInTheDocument();
    expect(await screen.findByText("No tips received yet.")).toBeInTheDocument();
    await user.click(screen.getByTestId("download-csv"));
    expect(await screen.findByRole("alert")).toHaveTextContent("Too many attempts. Try again in 30 seconds.");
  });

  it("is linked from the dashboard and the user menu", async () => {
    earningsServer();
    const user = userEvent.setup();
    const { router } = renderApp("/earnings");
    await user.click(await screen.findByTestId("user-menu-button"));
    expect(screen.getByRole("link", { name: "Earnings" })).toHaveAttribute("href", "/earnings");
    expect(router.state.location.pathname).toBe("/earnings");
  });
});
