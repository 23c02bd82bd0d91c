// Tips: what a creator accepts, sending one (with an Idempotency-Key), following a transaction until it
// settles, and a creator's earnings and payouts. Amounts are integers in the currency's minor unit.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "./client";
import type { components } from "./schema";

type Schemas = components["schemas"];

export type TransactionOut = Schemas["TransactionOut"];
export type TipCreated = Schemas["TipCreated"];
export type TipCreateBody = Schemas["TipCreate"];
export type TransactionPage = Schemas["Page_TransactionOut_"];
export type TransactionStatus = TransactionOut["status"];
export type TippingInfo = Schemas["TippingInfo"];
export type Earnings = Schemas["Earnings"];
export type CurrencyEarnings = Earnings["currencies"][number];
export type PayoutStatus = Schemas["PayoutStatus"];
export type TestConfirmBody = Schemas["TestConfirm"];
export type TestConfirmResult = Schemas["TestConfirmed"];
export type PaymentStep = Schemas["PaymentStep"];
/** A tip still to be paid: the server gives its payment step while it is pending. */
export type PendingTip = TipCreated & { payment: PaymentStep };
export type TransactionRole = "sent" | "received";

/** A transaction's list page size (the earnings page). */
export const TRANSACTIONS_LIMIT = 20;

export const tipKeys = {
  all: ["tips"] as const,
  tipping: (userId: string) => ["tips", "tipping", userId] as const,
  earnings: (streamId: string | null) => ["tips", "earnings", streamId ?? "all"] as const,
  payouts: ["tips", "payouts"] as const,
  transactions: (role: TransactionRole) => ["tips", "transactions", role] as const,
};

// ---------- sending a tip ----------

/** What the Tip button needs to know: whether the creator takes tips, in which currency, within which limits. */
export function useTipping(userId: string | undefined) {
  return useQuery({
    queryKey: tipKeys.tipping(userId ?? ""),
    enabled: userId !== undefined && userId !== "",
    queryFn: () => unwrap(api.GET("/api/users/{user_id}/tipping", { params: { path: { user_id: userId ?? "" } } })),
    staleTime: 60_000,
  });
}

/** A new Idempotency-Key: one per attempt to tip. */
export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

/**
 * Open a tip: a pending transaction and what the browser needs to confirm its payment. The same key with
 * the same body gives the same transaction back, so a retry after a network error never pays twice.
 */
export function createTip(body: TipCreateBody, idempotencyKey: string): Promise<TipCreated> {
  return unwrap(
    api.POST("/api/transactions", { body, params: { header: { "Idempotency-Key": idempotencyKey } } }),
  );
}

export function getTransaction(transactionId: string): Promise<TransactionOut> {
  return unwrap(api.GET("/api/transactions/{transaction_id}", { params: { path: { transaction_id: transactionId } } }));
}

/** The test provider's card form (LS_PAYMENTS=test only). */
export function confirmTestPayment(body: TestConfirmBody): Promise<TestConfirmResult> {
  return unwrap(api.POST("/api/payments/test/confirm", { body }));
}

// ---------- a creator's money ----------

/** Totals by currency, stream and month; with a stream id, that stream's only (the dashboard's running total). */
export function useEarnings(streamId: string | null = null, options: { refetchInterval?: number | false } = {}) {
  return useQuery({
    queryKey: tipKeys.earnings(streamId),
    queryFn: () =>
      unwrap(api.GET("/api/users/me/earnings", { params: { query: streamId ? { stream_id: streamId } : {} } })),
    refetchInterval: options.refetchInterval ?? false,
  });
}

export function usePayouts() {
  return useQuery({
    queryKey: tipKeys.payouts,
    queryFn: () => unwrap(api.GET("/api/users/me/payouts")),
  });
}

/** A Stripe onboarding link for the creator (a new one each time: they expire). */
export function requestOnboardingLink(): Promise<string> {
  return unwrap(api.POST("/api/users/me/payouts/onboard")).then((data) => data.url);
}

export function useOnboard() {
  return useMutation({
    mutationFn: async () => {
      const url = await requestOnboardingLink();
      window.location.assign(url);
    },
  });
}

/** Tips you sent or received, newest first, page by page. */
export function useTransactions(role: TransactionRole, enabled = true) {
  return useInfiniteQuery({
    queryKey: tipKeys.transactions(role),
    enabled,
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET("/api/transactions", {
          params: { query: { role, limit: TRANSACTIONS_LIMIT, ...(pageParam ? { cursor: pageParam } : {}) } },
        }),
      ),
    getNextPageParam: (last) => last.next_cursor ?? null,
  });
}

/** After a tip settles: the lists and totals that include it ask again. */
export function useInvalidateTips() {
  const client = useQueryClient();
  return () => void client.invalidateQueries({ queryKey: ["tips", "transactions"] });
}

/**
 * The received tips as CSV. The endpoint wants the Authorization header, so a plain link cannot fetch
 * it: the client does, and the browser saves the blob.
 */
export async function downloadEarningsCsv(filename = "earnings.csv"): Promise<void> {
  const blob = await unwrap(api.GET("/api/users/me/earnings.csv", { parseAs: "blob" }));
  const url = URL.createObjectURL(blob as Blob);
  try {
    const link = document.createElement("a");
    link.href = url;
    link.download = filename;
    link.rel = "noopener";
    document.body.append(link);
    link.click();
    link.remove();
  } finally {
    // Firefox starts the download after click() returns; give it a moment before the URL goes.
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}
