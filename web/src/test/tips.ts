// Tip payloads as the API and the chat socket send them, and a fake of the tips API for the dialog's tests.
import { vi } from "vitest";
import type { Earnings, PayoutStatus, TipCreated, TippingInfo, TransactionOut } from "../api/tips";
import type { TipFrame } from "../realtime/protocol";
import { bob } from "./chat";
import { alice, errorBody, json } from "./http";
import { STREAM_ID } from "./streams";

export const TX_ID = "7a7a7a7a-0000-4000-8000-0000000000f1";

export const txId = (n: number) => `7a7a7a7a-0000-4000-8000-${String(n).padStart(12, "0")}`;

export function makeTipping(overrides: Partial<TippingInfo> = {}): TippingInfo {
  return {
    can_receive_tips: true,
    provider: "test",
    currency: "JPY",
    min_amount: 100,
    max_amount: 50000,
    presets: [100, 500, 1000, 5000],
    publishable_key: null,
    ...overrides,
  };
}

export function makeTransaction(overrides: Partial<TransactionOut> = {}): TransactionOut {
  return {
    transaction_id: TX_ID,
    status: "pending",
    amount: 500,
    currency: "JPY",
    message: null,
    platform_fee: 50,
    stream_id: STREAM_ID,
    provider: "test",
    sender: { user_id: bob.user_id, username: bob.username, display_name: "Bob" },
    recipient: { user_id: alice.user_id, username: alice.username, display_name: alice.display_name },
    failure_code: null,
    created_at: "2026-03-04T20:15:00Z",
    updated_at: "2026-03-04T20:15:00Z",
    ...overrides,
  };
}

export function makeTipCreated(overrides: Partial<TipCreated> = {}): TipCreated {
  const tx = makeTransaction(overrides);
  return {
    ...tx,
    payment: {
      provider: tx.provider,
      payment_intent_id: `pi_${tx.transaction_id.slice(-6)}`,
      client_secret: `pi_${tx.transaction_id.slice(-6)}_secret_abc`,
      publishable_key: tx.provider === "stripe" ? "pk_test_123" : null,
    },
    ...overrides,
  };
}

export function tipFrame(overrides: Partial<TipFrame> = {}): TipFrame {
  const transaction_id = overrides.transaction_id ?? TX_ID;
  return {
    type: "tip",
    id: `tip:${transaction_id}`,
    transaction_id,
    user: bob,
    amount: 500,
    currency: "JPY",
    message: "Great stream!",
    sent_at: "2026-03-04T20:16:00Z",
    ...overrides,
  };
}

const count = (n = 0, amount = 0) => ({ count: n, amount });

export function makeEarnings(overrides: Partial<Earnings> = {}): Earnings {
  return {
    currencies: [
      {
        currency: "JPY",
        succeeded: count(3, 1600),
        pending: count(1, 500),
        failed: count(1, 100),
        refunded: count(1, 100),
        disputed: count(0, 0),
        fees: 160,
        net: 1440,
      },
    ],
    by_stream: [
      {
        stream_id: STREAM_ID,
        title: "Building a synth from scratch",
        started_at: "2026-03-04T20:00:00Z",
        currency: "JPY",
        count: 3,
        amount: 1600,
        fees: 160,
        net: 1440,
      },
    ],
    by_month: [{ month: "2026-03", currency: "JPY", count: 3, amount: 1600, fees: 160, net: 1440 }],
    ...overrides,
  };
}

export const emptyEarnings = (): Earnings => ({ currencies: [], by_stream: [], by_month: [] });

export function makePayouts(overrides: Partial<PayoutStatus> = {}): PayoutStatus {
  return {
    provider: "stripe",
    status: "not_started",
    can_receive_tips: false,
    currency: "JPY",
    details_submitted: false,
    payouts_enabled: false,
    ...overrides,
  };
}

export const txPage = (items: TransactionOut[], next_cursor: string | null = null) => ({ items, next_cursor });

/**
 * The tips API as the dialog sees it: POST /api/transactions (idempotent by key), GET the transaction,
 * the test provider's confirm. `settleAs` says what the webhook makes of a confirmed payment; `failNext`
 * makes the next POST fail at the network after the server acted on it (its answer is lost).
 */
export function fakeTipServer(options: { provider?: "test" | "stripe"; settleAfter?: number } = {}) {
  const provider = options.provider ?? "test";
  const state = {
    byKey: new Map<string, TipCreated>(),
    keys: [] as string[],
    bodies: [] as unknown[],
    confirms: [] as Record<string, unknown>[],
    transactions: new Map<string, TransactionOut>(),
    polls: 0,
    /** Lose the answer of the next POST (the server made the transaction). */
    loseNextAnswer: false,
    /** Refuse the next POST with this response. */
    refuseNext: null as Response | null,
    settleAfter: options.settleAfter ?? 1,
  };
  let seq = 0;
  const routes = {
    "POST /api/transactions": async (req: Request) => {
      const key = req.headers.get("Idempotency-Key");
      if (!key) return errorBody(400, "IDEMPOTENCY_KEY_REQUIRED", "Idempotency-Key is required");
      const body = (await req.json()) as { amount: number; currency: string; message?: string; stream_id?: string };
      state.keys.push(key);
      state.bodies.push(body);
      if (state.refuseNext) {
        const response = state.refuseNext;
        state.refuseNext = null;
        return response;
      }
      let tip = state.byKey.get(key);
      if (!tip) {
        seq += 1;
        tip = makeTipCreated({
          transaction_id: txId(seq),
          amount: body.amount,
          currency: body.currency as TipCreated["currency"],
          message: body.message ?? null,
          stream_id: body.stream_id ?? null,
          provider,
        });
        state.byKey.set(key, tip);
        // Stripe's webhook settles it once Stripe.js confirmed (the test's fake Stripe always does).
        const settling = provider === "stripe" ? { settleAt: state.polls + state.settleAfter } : {};
        state.transactions.set(tip.transaction_id, { ...tip, ...settling } as TransactionOut);
      }
      if (state.loseNextAnswer) {
        state.loseNextAnswer = false;
        throw new TypeError("Failed to fetch");
      }
      return json(201, tip);
    },
    "POST /api/payments/test/confirm": async (req: Request) => {
      const body = (await req.json()) as Record<string, unknown>;
      state.confirms.push(body);
      const tip = [...state.byKey.values()].find((t) => t.payment?.payment_intent_id === body.payment_intent_id);
      if (!tip) return errorBody(404, "NOT_FOUND", "No such payment");
      const card = String(body.card_number);
      if (card === "4000000000000002") {
        state.transactions.set(tip.transaction_id, { ...tip, status: "failed", failure_code: "card_declined" });
        return json(200, { status: "requires_payment_method", error: { code: "card_declined", message: "Your card was declined." } });
      }
      if (card !== "4242424242424242") return errorBody(400, "INVALID_CARD_NUMBER", "Your card number is invalid.");
      state.transactions.set(tip.transaction_id, { ...tip, status: "pending", settleAt: state.polls + state.settleAfter } as TransactionOut);
      return json(200, { status: "succeeded", error: null });
    },
  };
  const get = (req: Request) => {
    const id = new URL(req.url).pathname.split("/").at(-1)!;
    const tx = state.transactions.get(id) as (TransactionOut & { settleAt?: number }) | undefined;
    if (!tx) return errorBody(404, "TRANSACTION_NOT_FOUND", "Transaction not found");
    state.polls += 1;
    const { settleAt, ...out } = tx;
    if (settleAt !== undefined && state.polls >= settleAt) {
      const done = { ...out, status: "succeeded" as const };
      state.transactions.set(id, done);
      return json(200, done);
    }
    return json(200, out);
  };
  return { state, routes, get };
}

type Handler = (req: Request) => Response | Promise<Response>;

/**
 * Stub fetch with `routes` ("METHOD /path") plus the fake tip server's routes, GET /api/transactions/{id}
 * included (ids vary). Records every call.
 */
export function stubTipFetch(server: ReturnType<typeof fakeTipServer>, routes: Record<string, Handler> = {}) {
  const calls: Request[] = [];
  const all: Record<string, Handler> = { ...server.routes, ...routes };
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = input instanceof Request ? input : new Request(input, init);
    calls.push(req);
    const path = new URL(req.url).pathname;
    const handler = all[`${req.method} ${path}`];
    if (handler) return handler(req);
    if (req.method === "GET" && path.startsWith("/api/transactions/")) return server.get(req);
    throw new Error(`unexpected request ${req.method} ${path}`);
  });
  vi.stubGlobal("fetch", fetch);
  return { fetch, calls };
}
