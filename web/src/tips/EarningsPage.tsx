// /earnings: a creator's tips (totals by currency, per stream and per month, a CSV export and the list of
// received tips) and, on a second tab, the tips you sent.
import { useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { errorMessage } from "../api/errors";
import { downloadEarningsCsv, useEarnings, useTransactions, type Earnings, type TransactionOut, type TransactionRole } from "../api/tips";
import { EmptyState, Spinner } from "../components/Status";
import { formatDate, formatDateTime, formatJoined } from "../lib/format";
import { usePageTitle } from "../lib/usePageTitle";
import { formatMoney } from "./money";

const STATUS_LABELS: Record<TransactionOut["status"], string> = {
  pending: "Pending",
  succeeded: "Succeeded",
  failed: "Failed",
  refunded: "Refunded",
  disputed: "Disputed",
};

/** "2026-03" → "March 2026" (the month is UTC on the server; read it as such). */
export function monthLabel(month: string): string {
  return /^\d{4}-\d{2}$/.test(month) ? formatJoined(`${month}-15T12:00:00Z`) : month;
}

function Money({ minor, currency }: { minor: number; currency: string }) {
  return <>{formatMoney(minor, currency)}</>;
}

function Totals({ earnings }: { earnings: Earnings }) {
  return (
    <section className="card earnings-card" aria-labelledby="totals-title" data-testid="earnings-totals">
      <h2 id="totals-title">Totals</h2>
      <p className="muted">Gross is what viewers paid for succeeded tips; net is that less the platform fee, and is what goes to you.</p>
      <div className="money-table-wrap">
        <table className="money-table">
          <thead>
            <tr>
              <th scope="col">Currency</th>
              <th scope="col" className="num">Tips</th>
              <th scope="col" className="num">Gross</th>
              <th scope="col" className="num">Fees</th>
              <th scope="col" className="num">Net</th>
              <th scope="col" className="num">Pending</th>
              <th scope="col" className="num">Refunded</th>
              <th scope="col" className="num">Disputed</th>
            </tr>
          </thead>
          <tbody>
            {earnings.currencies.map((c) => (
              <tr key={c.currency} data-testid={`totals-${c.currency}`}>
                <th scope="row">{c.currency}</th>
                <td className="num">{c.succeeded.count}</td>
                <td className="num" data-testid="gross">
                  <Money minor={c.succeeded.amount} currency={c.currency} />
                </td>
                <td className="num" data-testid="fees">
                  <Money minor={c.fees} currency={c.currency} />
                </td>
                <td className="num" data-testid="net">
                  <strong>
                    <Money minor={c.net} currency={c.currency} />
                  </strong>
                </td>
                <td className="num" data-testid="pending">
                  <Money minor={c.pending.amount} currency={c.currency} />
                </td>
                <td className="num" data-testid="refunded">
                  <Money minor={c.refunded.amount} currency={c.currency} />
                </td>
                <td className="num" data-testid="disputed">
                  <Money minor={c.disputed.amount} currency={c.currency} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function ByStream({ earnings }: { earnings: Earnings }) {
  return (
    <section className="card earnings-card" aria-labelledby="by-stream-title" data-testid="earnings-by-stream">
      <h2 id="by-stream-title">By stream</h2>
      {earnings.by_stream.length === 0 ? (
        <p className="muted">No tips during a stream yet.</p>
      ) : (
        <div className="money-table-wrap">
          <table className="money-table">
            <thead>
              <tr>
                <th scope="col">Stream</th>
                <th scope="col">Date</th>
                <th scope="col" className="num">Tips</th>
                <th scope="col" className="num">Gross</th>
                <th scope="col" className="num">Fees</th>
                <th scope="col" className="num">Net</th>
              </tr>
            </thead>
            <tbody>
              {earnings.by_stream.map((s) => (
                <tr key={`${s.stream_id}-${s.currency}`}>
                  <th scope="row">
                    <Link to={`/watch/${encodeURIComponent(s.stream_id)}`}>{s.title || "Untitled stream"}</Link>
                  </th>
                  <td>{s.started_at ? formatDate(s.started_at) : "—"}</td>
                  <TotalCells total={s} />
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

type Total = { count: number; amount: number; fees: number; net: number; currency: string };

/** Tips, gross, fees and net: the same four columns in every earnings table. */
function TotalCells({ total }: { total: Total }) {
  return (
    <>
      <td className="num">{total.count}</td>
      <td className="num">
        <Money minor={total.amount} currency={total.currency} />
      </td>
      <td className="num">
        <Money minor={total.fees} currency={total.currency} />
      </td>
      <td className="num">
        <Money minor={total.net} currency={total.currency} />
      </td>
    </>
  );
}

function ByMonth({ earnings }: { earnings: Earnings }) {
  return (
    <section className="card earnings-card" aria-labelledby="by-month-title" data-testid="earnings-by-month">
      <h2 id="by-month-title">By month</h2>
      {earnings.by_month.length === 0 ? (
        <p className="muted">Nothing yet.</p>
      ) : (
        <div className="money-table-wrap">
          <table className="money-table">
            <thead>
              <tr>
                <th scope="col">Month (UTC)</th>
                <th scope="col" className="num">Tips</th>
                <th scope="col" className="num">Gross</th>
                <th scope="col" className="num">Fees</th>
                <th scope="col" className="num">Net</th>
              </tr>
            </thead>
            <tbody>
              {earnings.by_month.map((m) => (
                <tr key={`${m.month}-${m.currency}`}>
                  <th scope="row">{monthLabel(m.month)}</th>
                  <TotalCells total={m} />
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function TransactionRow({ tx, role }: { tx: TransactionOut; role: TransactionRole }) {
  const other = role === "received" ? tx.sender : tx.recipient;
  const who = other ? `@${other.username}` : "A deleted account";
  return (
    <li className="tip-list-row" data-testid="transaction" data-status={tx.status}>
      <strong>{formatMoney(tx.amount, tx.currency)}</strong>
      <span>
        {role === "received" ? "from " : "to "}
        {other ? <Link to={`/u/${encodeURIComponent(other.username)}`}>{who}</Link> : who}
      </span>
      <span className={`tx-status tx-status--${tx.status}`}>{STATUS_LABELS[tx.status] ?? tx.status}</span>
      <time className="muted" dateTime={tx.created_at}>
        {formatDateTime(tx.created_at)}
      </time>
      {tx.stream_id ? (
        <Link to={`/watch/${encodeURIComponent(tx.stream_id)}`} className="muted">
          during a stream
        </Link>
      ) : null}
      {role === "received" && tx.status === "succeeded" ? (
        <span className="muted">fee {formatMoney(tx.platform_fee, tx.currency)}</span>
      ) : null}
      {tx.message ? <span className="tip-list-message">“{tx.message}”</span> : null}
    </li>
  );
}

function TransactionList({ role }: { role: TransactionRole }) {
  const list = useTransactions(role);
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  const title = role === "received" ? "Received tips" : "Tips you sent";
  return (
    <section className="card earnings-card" aria-labelledby={`${role}-title`} data-testid={`transactions-${role}`}>
      <h2 id={`${role}-title`}>{title}</h2>
      {list.isPending ? (
        <Spinner label="Loading tips…" />
      ) : list.isError && items.length === 0 ? (
        <p className="form-error" role="alert">
          {errorMessage(list.error)}
        </p>
      ) : items.length === 0 ? (
        <EmptyState title={role === "received" ? "No tips received yet." : "You have not sent a tip yet."}>
          {role === "received" ? "Viewers tip you from your channel and watch pages." : "Tip a creator from their channel or a live stream."}
        </EmptyState>
      ) : (
        <ul className="tip-list">
          {items.map((tx) => (
            <TransactionRow key={tx.transaction_id} tx={tx} role={role} />
          ))}
        </ul>
      )}
      {list.hasNextPage ? (
        <div className="load-more">
          <button type="button" className="btn btn--secondary" onClick={() => void list.fetchNextPage()} disabled={list.isFetchingNextPage}>
            {list.isFetchingNextPage ? "Loading…" : "Load more"}
          </button>
        </div>
      ) : null}
    </section>
  );
}

function CsvButton() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const onClick = async () => {
    setBusy(true);
    setError(null);
    try {
      await downloadEarningsCsv();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="form-actions">
      <button type="button" className="btn btn--secondary" onClick={() => void onClick()} disabled={busy} data-testid="download-csv">
        {busy ? "Preparing…" : "Download CSV"}
      </button>
      {error ? (
        <span className="field-error" role="alert">
          {error}
        </span>
      ) : null}
    </div>
  );
}

function Received() {
  const earnings = useEarnings();
  return (
    <>
      {earnings.isPending ? (
        <Spinner label="Loading your earnings…" />
      ) : earnings.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(earnings.error)}
        </p>
      ) : earnings.data.currencies.length === 0 ? (
        <EmptyState title="No earnings yet.">
          When viewers tip you, the totals appear here. <Link to="/dashboard">Check your payouts on the dashboard</Link>
        </EmptyState>
      ) : (
        <>
          <Totals earnings={earnings.data} />
          <ByStream earnings={earnings.data} />
          <ByMonth earnings={earnings.data} />
        </>
      )}
      <TransactionList role="received" />
    </>
  );
}

export function EarningsPage() {
  usePageTitle("Earnings");
  const [params, setParams] = useSearchParams();
  const tab: TransactionRole = params.get("tab") === "sent" ? "sent" : "received";
  const select = (next: TransactionRole) => setParams(next === "sent" ? { tab: "sent" } : {}, { replace: true });

  return (
    <div className="page earnings" data-testid="earnings-page">
      <div className="dash-head">
        <div>
          <h1>Earnings</h1>
          <p className="muted">Tips you received and sent. Amounts are in each tip’s own currency.</p>
        </div>
        <CsvButton />
      </div>
      <div className="tabs" role="tablist" aria-label="Tips">
        <button
          type="button"
          role="tab"
          id="tab-received"
          aria-selected={tab === "received"}
          aria-controls="panel-tips"
          className={`tab${tab === "received" ? " active" : ""}`}
          onClick={() => select("received")}
        >
          Received
        </button>
        <button
          type="button"
          role="tab"
          id="tab-sent"
          aria-selected={tab === "sent"}
          aria-controls="panel-tips"
          className={`tab${tab === "sent" ? " active" : ""}`}
          onClick={() => select("sent")}
        >
          Sent tips
        </button>
      </div>
      <div id="panel-tips" role="tabpanel" aria-labelledby={`tab-${tab}`}>
        {tab === "received" ? <Received /> : <TransactionList role="sent" />}
      </div>
    </div>
  );
}
