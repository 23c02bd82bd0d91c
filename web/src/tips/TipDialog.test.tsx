import { QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { createMemoryRouter, RouterProvider } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loadStripe } from "@stripe/stripe-js";
import { createQueryClient } from "../App";
import { clearSession, resetSessionForTests, setAuthenticated } from "../auth/session";
import { bob } from "../test/chat";
import { alice, errorBody, json } from "../test/http";
import { STREAM_ID } from "../test/streams";
import { fakeTipServer, makeTipping, stubTipFetch } from "../test/tips";
import type { TippingInfo } from "../api/tips";
import { TipButton } from "./TipButton";

vi.mock("@stripe/stripe-js", () => ({ loadStripe: vi.fn() }));

const bobPrivate = { ...alice, user_id: bob.user_id, username: bob.username, display_name: "Bob", email: "bob@example.com" };
const recipient = { user_id: alice.user_id, username: alice.username, display_name: alice.display_name };

function serve(tipping: TippingInfo = makeTipping(), options: Parameters<typeof fakeTipServer>[0] = {}) {
  const server = fakeTipServer(options);
  const { calls } = stubTipFetch(server, { [`GET /api/users/${alice.user_id}/tipping`]: () => json(200, tipping) });
  return { ...server, calls };
}

function renderButton(streamId: string | null = STREAM_ID) {
  const router = createMemoryRouter(
    [
      { path: "/watch/:id", element: <TipButton recipient={recipient} streamId={streamId} /> },
      { path: "/login", element: <p>Login page</p> },
    ],
    { initialEntries: [`/watch/${STREAM_ID}`] },
  );
  return render(
    <QueryClientProvider client={createQueryClient()}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
}

async function openDialog(user: ReturnType<typeof userEvent.setup>) {
  await user.click(await screen.findByTestId("tip-button"));
  return screen.getByRole("dialog", { name: "Tip Alice" });
}

async function payWith(user: ReturnType<typeof userEvent.setup>, card: string) {
  const form = await screen.findByTestId("test-card-form");
  await user.type(within(form).getByLabelText("Card number"), card);
  await user.type(within(form).getByLabelText("Expiry (MM / YY)"), "1234");
  await user.type(within(form).getByLabelText("CVC"), "123");
  await user.click(within(form).getByTestId("pay-button"));
}

describe("tip dialog (test provider)", () => {
  beforeEach(() => {
    resetSessionForTests();
    setAuthenticated("token-b", bobPrivate);
    vi.mocked(loadStripe).mockReset();
  });
  afterEach(() => {
    vi.useRealTimers();
    resetSessionForTests();
  });

  it("tips ¥500 with a message: one transaction with an Idempotency-Key, the test card form, then success", async () => {
    const server = serve();
    const user = userEvent.setup();
    renderButton();
    const button = await screen.findByTestId("tip-button");
    const dialog = await openDialog(user);

    expect(dialog).toHaveAttribute("aria-modal", "true");
    const presets = within(dialog).getAllByTestId("tip-preset");
    expect(presets.map((p) => p.textContent)).toEqual(["¥100", "¥500", "¥1,000", "¥5,000"]);
    // Focus starts inside the dialog.
    expect(presets[0]).toHaveFocus();
    expect(within(dialog).getByText("¥100–¥50,000 in whole yen")).toBeInTheDocument();

    await user.click(presets[1]!);
    expect(presets[1]).toHaveAttribute("aria-pressed", "true");
    expect(within(dialog).getByTestId("tip-amount")).toHaveValue("500");
    await user.type(within(dialog).getByTestId("tip-message"), "Great stream!");
    expect(within(dialog).getByTestId("tip-counter")).toHaveTextContent("13/200");
    await user.click(within(dialog).getByTestId("tip-submit"));

    const form = await within(dialog).findByTestId("test-card-form");
    expect(within(form).getByTestId("test-card-hint")).toHaveTextContent("4242 4242 4242 4242");
    expect(within(form).getByTestId("test-card-hint")).toHaveTextContent("4000 0000 0000 0002");
    expect(server.state.bodies).toEqual([{ stream_id: STREAM_ID, amount: 500, currency: "JPY", message: "Great stream!" }]);
    expect(server.state.keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    const post = server.calls.find((c) => c.method === "POST" && c.url.endsWith("/api/transactions"))!;
    expect(post.headers.get("Authorization")).toBe("Bearer token-b");

    await payWith(user, "4242424242424242");
    expect(await within(dialog).findByTestId("tip-success")).toHaveTextContent("Thanks! Your tip of ¥500 was sent.");
    expect(server.state.confirms).toEqual([
      {
        payment_intent_id: "pi_000001",
        client_secret: "pi_000001_secret_abc",
        card_number: "4242424242424242",
        exp_month: 12,
        exp_year: 2034,
        cvc: "123",
      },
    ]);
    expect(loadStripe).not.toHaveBeenCalled();

    await user.click(within(dialog).getByRole("button", { name: "Done" }));
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(button).toHaveFocus();
  });

  it("shows processing while the payment settles, polling the transaction", async () => {
    const server = serve(makeTipping(), { settleAfter: 2 });
    const user = userEvent.setup();
    renderButton();
    const dialog = await openDialog(user);
    await user.click(within(dialog).getByTestId("tip-submit"));
    await payWith(user, "4242 4242 4242 4242");
    expect(await within(dialog).findByTestId("tip-processing")).toHaveTextContent("Processing your tip…");
    expect(await within(dialog).findByTestId("tip-success", {}, { timeout: 3000 })).toBeInTheDocument();
    expect(server.state.polls).toBe(2);
  });

  it("checks the amount against the creator's limits and the message's length before sending anything", async () => {
    const server = serve();
    const user = userEvent.setup();
    renderButton();
    const dialog = await openDialog(user);
    const amount = within(dialog).getByTestId("tip-amount");

    await user.clear(amount);
    await user.type(amount, "50");
    await user.click(within(dialog).getByTestId("tip-submit"));
    expect(within(dialog).getByTestId("tip-amount-error")).toHaveTextContent("The smallest tip is ¥100.");

    await user.clear(amount);
    await user.type(amount, "60000");
    await user.click(within(dialog).getByTestId("tip-submit"));
    expect(within(dialog).getByTestId("tip-amount-error")).toHaveTextContent("The largest tip is ¥50,000.");

    await user.clear(amount);
    await user.type(amount, "5.5");
    await user.click(within(dialog).getByTestId("tip-submit"));
    expect(within(dialog).getByTestId("tip-amount-error")).toHaveTextContent("JPY has no smaller unit");

    await user.clear(amount);
    await user.type(amount, "700");
    const message = within(dialog).getByTestId("tip-message");
    await user.click(message);
    await user.paste("x".repeat(201));
    expect(within(dialog).getByTestId("tip-counter")).toHaveTextContent("201/200 · too long");
    expect(within(dialog).getByTestId("tip-submit")).toBeDisabled();
    expect(server.state.bodies).toEqual([]);
  });

  it("sends USD in cents: 5.00 is 500", async () => {
    const server = serve(makeTipping({ currency: "USD", presets: [100, 500, 1000] }));
    const user = userEvent.setup();
    renderButton(null);
    const dialog = await openDialog(user);
    expect(within(dialog).getAllByTestId("tip-preset").map((p) => p.textContent)).toEqual(["$1.00", "$5.00", "$10.00"]);
    const amount = within(dialog).getByTestId("tip-amount");
    await user.clear(amount);
    await user.type(amount, "7.25");
    expect(within(dialog).getByTestId("tip-submit")).toHaveTextContent("Continue with $7.25");
    await user.click(within(dialog).getByTestId("tip-submit"));
    await within(dialog).findByTestId("test-card-form");
    // From a channel page: to the creator, no stream.
    expect(server.state.bodies).toEqual([{ recipient_id: alice.user_id, amount: 725, currency: "USD" }]);
  });

  it("shows a decline's reason, and Try again opens a new transaction with a new Idempotency-Key", async () => {
    const server = serve();
    const user = userEvent.setup();
    renderButton();
    const dialog = await openDialog(user);
    await user.click(within(dialog).getAllByTestId("tip-preset")[1]!);
    await user.click(within(dialog).getByTestId("tip-submit"));
    await payWith(user, "4000 0000 0000 0002");

    const declined = await within(dialog).findByTestId("tip-declined");
    expect(declined).toHaveTextContent("Payment declined. Your card was declined.");
    await user.click(within(declined).getByTestId("tip-retry"));

    await within(dialog).findByTestId("test-card-form");
    expect(server.state.keys).toHaveLength(2);
    expect(server.state.keys[1]).not.toBe(server.state.keys[0]);
    expect(server.state.bodies[1]).toEqual(server.state.bodies[0]);
    expect(server.state.byKey.size).toBe(2);

    await payWith(user, "4242424242424242");
    expect(await within(dialog).findByTestId("tip-success")).toHaveTextContent("Thanks! Your tip of ¥500 was sent.");
    // The second transaction's intent was the one confirmed.
    expect(server.state.confirms.map((c) => c.payment_intent_id)).toEqual(["pi_000001", "pi_000002"]);
  });

  it("reuses the Idempotency-Key when the same tip is sent again after a network error, and a new one for a changed tip", async () => {
    const server = serve();
    const user = userEvent.setup();
    renderButton();
    const dialog = await openDialog(user);
    server.state.loseNextAnswer = true;
    await user.click(within(dialog).getByTestId("tip-submit"));
    expect(await within(dialog).findByTestId("form-error")).toHaveTextContent("Could not reach the server");

    await user.click(within(dialog).getByTestId("tip-submit"));
    await within(dialog).findByTestId("test-card-form");
    expect(server.state.keys).toHaveLength(2);
    expect(server.state.keys[1]).toBe(server.state.keys[0]);
    // One transaction at the server, not two.
    expect(server.state.byKey.size).toBe(1);

    // Another attempt (closing and tipping again) is a new key.
    await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
    server.state.loseNextAnswer = true;
    const again = await openDialog(user);
    await user.click(within(again).getByTestId("tip-submit"));
    await within(again).findByTestId("form-error");
    const amount = within(again).getByTestId("tip-amount");
    await user.clear(amount);
    await user.type(amount, "800");
    await user.click(within(again).getByTestId("tip-submit"));
    await within(again).findByTestId("test-card-form");
    expect(new Set(server.state.keys).size).toBe(3);
  });

  it("shows the API's refusal clearly and keeps the form", async () => {
    const server = serve();
    server.state.refuseNext = errorBody(409, "STREAM_NOT_TIPPABLE", "This stream is not taking tips");
    const user = userEvent.setup();
    renderButton();
    const dialog = await openDialog(user);
    await user.click(within(dialog).getByTestId("tip-submit"));
    expect(await within(dialog).findByTestId("form-error")).toHaveTextContent(
      "This stream can no longer receive tips: tips are open while it is live and for an hour after it ends.",
    );
    expect(within(dialog).getByTestId("tip-form")).toBeInTheDocument();

    server.state.refuseNext = errorBody(400, "AMOUNT_OUT_OF_RANGE", "Tips are between ¥100 and ¥50,000", { min_amount: 100, max_amount: 50000 });
    await user.click(within(dialog).getByTestId("tip-submit"));
    expect(await within(dialog).findByTestId("tip-amount-error")).toHaveTextContent("Tips are between ¥100 and ¥50,000");
    // A refused request is settled: the next one is a new attempt.
    await user.click(within(dialog).getByTestId("tip-submit"));
    await within(dialog).findByTestId("test-card-form");
    expect(new Set(server.state.keys).size).toBe(3);
  });

  it("says an invalid card number at the number, and stays on the same payment", async () => {
    const server = serve();
    const user = userEvent.setup();
    renderButton();
    const dialog = await openDialog(user);
    await user.click(within(dialog).getByTestId("tip-submit"));
    await payWith(user, "4242424242424241");
    expect(await within(dialog).findByText("Your card number is invalid.")).toBeInTheDocument();
    expect(within(dialog).getByTestId("test-card-form")).toBeInTheDocument();
    expect(server.state.keys).toHaveLength(1);
  });

  it("closes with Escape and gives focus back to the Tip button", async () => {
    serve();
    const user = userEvent.setup();
    renderButton();
    const button = await screen.findByTestId("tip-button");
    await openDialog(user);
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(button).toHaveFocus();
  });
});

describe("tip button", () => {
  beforeEach(() => resetSessionForTests());
  afterEach(() => resetSessionForTests());

  it("sends signed-out viewers to log in, back to this page", async () => {
    clearSession();
    serve();
    const user = userEvent.setup();
    renderButton();
    const link = await screen.findByTestId("tip-login");
    expect(link).toHaveAttribute("href", `/login?next=${encodeURIComponent(`/watch/${STREAM_ID}`)}`);
    await user.click(link);
    expect(await screen.findByText("Login page")).toBeInTheDocument();
  });

  it("says when the creator cannot receive tips yet, and shows nothing when tips are off", async () => {
    setAuthenticated("token-b", bobPrivate);
    serve(makeTipping({ can_receive_tips: false, provider: "stripe" }));
    const { unmount } = renderButton();
    expect(await screen.findByTestId("tip-unavailable")).toHaveTextContent("Can’t receive tips yet");
    unmount();

    serve(makeTipping({ can_receive_tips: false, provider: null }));
    const { container } = renderButton();
    await waitFor(() => expect(vi.mocked(fetch)).toHaveBeenCalled());
    await new Promise((r) => setTimeout(r, 20));
    expect(container).toBeEmptyDOMElement();
  });

  it("is not offered on your own channel", async () => {
    setAuthenticated("token-a", alice);
    const { calls } = serve();
    const { container } = renderButton();
    await new Promise((r) => setTimeout(r, 20));
    expect(container).toBeEmptyDOMElement();
    expect(calls.length).toBeLessThanOrEqual(1);
  });
});
