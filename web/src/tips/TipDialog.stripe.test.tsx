// The Stripe branch: Stripe.js is mocked (loadStripe gives a fake Stripe), @stripe/react-stripe-js is the real one.
import { QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { loadStripe } from "@stripe/stripe-js";
import { createQueryClient } from "../App";
import { resetSessionForTests, setAuthenticated } from "../auth/session";
import { bob } from "../test/chat";
import { alice, json } from "../test/http";
import { STREAM_ID } from "../test/streams";
import { fakeTipServer, makeTipping, stubTipFetch } from "../test/tips";
import { resetStripeForTests } from "./StripeConfirm";
import { TipButton } from "./TipButton";

vi.mock("@stripe/stripe-js", () => ({ loadStripe: vi.fn() }));

const bobPrivate = { ...alice, user_id: bob.user_id, username: bob.username, display_name: "Bob", email: "bob@example.com" };

type ConfirmResult = { error: Record<string, unknown> } | { paymentIntent: { status: string } };

/** Just enough of Stripe.js for Elements and the Payment Element to mount, and confirmPayment to be called. */
function fakeStripe(confirm: (params: Record<string, unknown>) => ConfirmResult) {
  const mounted: Array<{ type: string; options: unknown }> = [];
  const elementsOptions: unknown[] = [];
  const element = (type: string, options: unknown) => {
    mounted.push({ type, options });
    const handlers = new Map<string, (...args: unknown[]) => void>();
    return {
      mount: vi.fn(() => queueMicrotask(() => handlers.get("ready")?.({ elementType: type }))),
      on: vi.fn((event: string, cb: (...args: unknown[]) => void) => handlers.set(event, cb)),
      off: vi.fn(),
      once: vi.fn(),
      update: vi.fn(),
      destroy: vi.fn(),
      unmount: vi.fn(),
    };
  };
  const elements = { create: vi.fn(element), update: vi.fn(), getElement: vi.fn(() => null), submit: vi.fn(), fetchUpdates: vi.fn() };
  const stripe = {
    elements: vi.fn((options: unknown) => {
      elementsOptions.push(options);
      return elements;
    }),
    createToken: vi.fn(),
    createPaymentMethod: vi.fn(),
    confirmCardPayment: vi.fn(),
    confirmPayment: vi.fn(async (params: Record<string, unknown>) => confirm(params)),
  };
  return { stripe, mounted, elementsOptions };
}

function renderStripeTip() {
  const server = fakeTipServer({ provider: "stripe" });
  const tipping = makeTipping({ provider: "stripe", publishable_key: "pk_test_123" });
  stubTipFetch(server, { [`GET /api/users/${alice.user_id}/tipping`]: () => json(200, tipping) });
  render(
    <QueryClientProvider client={createQueryClient()}>
      <MemoryRouter initialEntries={[`/watch/${STREAM_ID}`]}>
        <TipButton recipient={{ user_id: alice.user_id, username: "alice", display_name: "Alice" }} streamId={STREAM_ID} />
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return server;
}

describe("tip dialog (Stripe)", () => {
  beforeEach(() => {
    resetSessionForTests();
    resetStripeForTests();
    setAuthenticated("token-b", bobPrivate);
    vi.mocked(loadStripe).mockReset();
  });
  afterEach(() => resetSessionForTests());

  it("loads Stripe.js only at the payment step, mounts the Payment Element with the client secret, and confirms there", async () => {
    const fake = fakeStripe(() => ({ paymentIntent: { status: "succeeded" } }));
    vi.mocked(loadStripe).mockResolvedValue(fake.stripe as never);
    const server = renderStripeTip();
    const user = userEvent.setup();

    await user.click(await screen.findByTestId("tip-button"));
    const dialog = screen.getByRole("dialog", { name: "Tip Alice" });
    expect(loadStripe).not.toHaveBeenCalled();
    await user.click(within(dialog).getAllByTestId("tip-preset")[1]!);
    await user.click(within(dialog).getByTestId("tip-submit"));

    const form = await within(dialog).findByTestId("stripe-form");
    expect(loadStripe).toHaveBeenCalledWith("pk_test_123");
    await waitFor(() => expect(fake.mounted.map((m) => m.type)).toEqual(["payment"]));
    expect(fake.elementsOptions[0]).toMatchObject({ clientSecret: "pi_000001_secret_abc" });
    // No card fields of ours: the card goes to Stripe only.
    expect(within(dialog).queryByLabelText("Card number")).not.toBeInTheDocument();

    await waitFor(() => expect(within(form).getByTestId("pay-button")).toBeEnabled());
    await user.click(within(form).getByTestId("pay-button"));
    expect(await within(dialog).findByTestId("tip-success")).toHaveTextContent("Thanks! Your tip of ¥500 was sent.");
    const params = fake.stripe.confirmPayment.mock.calls[0]![0];
    expect(params).toMatchObject({ redirect: "if_required", confirmParams: { return_url: expect.any(String) } });
    expect(params.elements).toBeDefined();
    expect(server.state.bodies).toHaveLength(1);
    expect(server.state.confirms).toEqual([]);
  });

  it("shows Stripe's decline and retries as a new transaction; a validation error stays on the form", async () => {
    let answer: ConfirmResult = { error: { type: "validation_error", message: "Your card number is incomplete." } };
    const fake = fakeStripe(() => answer);
    vi.mocked(loadStripe).mockResolvedValue(fake.stripe as never);
    const server = renderStripeTip();
    const user = userEvent.setup();

    await user.click(await screen.findByTestId("tip-button"));
    const dialog = screen.getByRole("dialog");
    await user.click(within(dialog).getByTestId("tip-submit"));
    const form = await within(dialog).findByTestId("stripe-form");
    await waitFor(() => expect(within(form).getByTestId("pay-button")).toBeEnabled());

    await user.click(within(form).getByTestId("pay-button"));
    expect(await within(form).findByTestId("form-error")).toHaveTextContent("Your card number is incomplete.");

    answer = { error: { type: "card_error", code: "card_declined", decline_code: "insufficient_funds", message: "Your card has insufficient funds." } };
    await user.click(within(form).getByTestId("pay-button"));
    const declined = await within(dialog).findByTestId("tip-declined");
    expect(declined).toHaveTextContent("Your card has insufficient funds.");

    await user.click(within(declined).getByTestId("tip-retry"));
    await within(dialog).findByTestId("stripe-form");
    expect(server.state.keys).toHaveLength(2);
    expect(server.state.keys[1]).not.toBe(server.state.keys[0]);
    // One Stripe.js for the page, whatever the number of payments.
    expect(loadStripe).toHaveBeenCalledTimes(1);
  });

  it("says so when Stripe.js cannot be loaded", async () => {
    vi.mocked(loadStripe).mockRejectedValue(new Error("Failed to load Stripe.js"));
    renderStripeTip();
    const user = userEvent.setup();
    await user.click(await screen.findByTestId("tip-button"));
    await user.click(within(screen.getByRole("dialog")).getByTestId("tip-submit"));
    expect(await screen.findByTestId("stripe-failed")).toHaveTextContent("Stripe's payment form could not be loaded");
  });
});
