// The dashboard's running tip total for the live stream, and its recent tips. The total starts from the
// server's earnings for the stream and adds tip frames as the chat socket brings them; each frame also
// asks the server again (shortly after), so a frame counted twice around a fetch is put right.
import { useEffect, useMemo, useRef, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { errorMessage } from "../api/errors";
import { usePayouts } from "../api/tips";
import type { ChatStore, TipLine } from "../chat/chatStore";
import { useChatState } from "../chat/useChat";
import { formatAgo, plural } from "../lib/format";
import type { TipFrame } from "../realtime/protocol";
import { formatMoney } from "./money";

/** After a tip frame, the total is asked again this much later (several tips in a burst: one request). */
export const TOTAL_REFETCH_MS = 2_000;
/** And every so often anyway (a refund, a frame lost while reconnecting). */
export const TOTAL_POLL_MS = 60_000;
const RECENT = 8;

interface Total {
  currency: string;
  count: number;
  amount: number;
}

interface Seen {
  seq: number;
  transactionId: string;
  currency: string;
  amount: number;
}

/** Succeeded tips to `streamId` by currency: the server's figure plus the frames since it was asked. */
export function useStreamTipTotals(store: ChatStore, streamId: string) {
  const seq = useRef(0);
  const [frames, setFrames] = useState<Seen[]>([]);
  const query = useQuery({
    queryKey: ["tips", "earnings", streamId, "running"],
    queryFn: async () => {
      // Frames from this number on arrived after this request left: the answer may not include them.
      const from = seq.current + 1;
      const earnings = await unwrap(api.GET("/api/users/me/earnings", { params: { query: { stream_id: streamId } } }));
      return { earnings, from };
    },
    refetchInterval: TOTAL_POLL_MS,
  });
  const { refetch } = query;

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const off = store.onTip((frame: TipFrame) => {
      seq.current += 1;
      const seen = { seq: seq.current, transactionId: frame.transaction_id, currency: frame.currency, amount: frame.amount };
      setFrames((old) => (old.some((f) => f.transactionId === seen.transactionId) ? old : [...old, seen]));
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void refetch(), TOTAL_REFETCH_MS);
    });
    return () => {
      off();
      if (timer) clearTimeout(timer);
    };
  }, [store, refetch]);

  const totals = useMemo((): Total[] | null => {
    if (!query.data) return null;
    const { earnings, from } = query.data;
    const byCurrency = new Map<string, Total>();
    for (const c of earnings.currencies) {
      if (c.succeeded.count > 0) byCurrency.set(c.currency, { currency: c.currency, count: c.succeeded.count, amount: c.succeeded.amount });
    }
    for (const f of frames) {
      if (f.seq < from) continue;
      const t = byCurrency.get(f.currency) ?? { currency: f.currency, count: 0, amount: 0 };
      byCurrency.set(f.currency, { ...t, count: t.count + 1, amount: t.amount + f.amount });
    }
    return [...byCurrency.values()];
  }, [query.data, frames]);

  return { totals, error: query.isError && !query.data ? query.error : null };
}

function TipRow({ tip }: { tip: TipLine }) {
  return (
    <li className="tip-list-row" data-testid="recent-tip">
      <strong>{formatMoney(tip.amount, tip.currency)}</strong>
      <span>{tip.user ? `@${tip.user.username}` : "Someone"}</span>
      <time className="muted" dateTime={tip.sentAt}>
        {formatAgo(tip.sentAt)}
      </time>
      {tip.message ? <span className="tip-list-message">{tip.message}</span> : null}
    </li>
  );
}

export function StreamTipsCard({ store, streamId }: { store: ChatStore; streamId: string }) {
  const payouts = usePayouts();
  // Tips are off on this server: no total to speak of.
  if (payouts.data?.status === "disabled") return null;
  return <StreamTips store={store} streamId={streamId} />;
}

function StreamTips({ store, streamId }: { store: ChatStore; streamId: string }) {
  const { totals, error } = useStreamTipTotals(store, streamId);
  const { messages } = useChatState(store);
  const recent = messages
    .filter((m): m is TipLine => m.kind === "tip")
    .slice(-RECENT)
    .reverse();

  return (
    <section className="dash-tips" aria-labelledby="stream-tips-title" data-testid="stream-tips">
      <h3 id="stream-tips-title">Tips this stream</h3>
      {error ? (
        <p className="form-error" role="alert">
          {errorMessage(error)}
        </p>
      ) : totals === null ? (
        <p className="muted">Loading…</p>
      ) : totals.length === 0 ? (
        <p className="muted" data-testid="stream-tip-total">
          No tips yet this stream.
        </p>
      ) : (
        <p className="tip-totals" data-testid="stream-tip-total" aria-live="polite">
          {totals.map((t) => (
            <span key={t.currency}>
              <span className="tip-total" data-testid={`stream-tip-total-${t.currency}`}>
                {formatMoney(t.amount, t.currency)}
              </span>{" "}
              <span className="muted">
                from {t.count} {plural(t.count, "tip", "tips")}
              </span>
            </span>
          ))}
        </p>
      )}
      {recent.length ? (
        <ol className="tip-list" aria-label="Recent tips" data-testid="recent-tips">
          {recent.map((tip) => (
            <TipRow key={tip.key} tip={tip} />
          ))}
        </ol>
      ) : null}
    </section>
  );
}
