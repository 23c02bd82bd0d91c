// The tip dialog: an amount (presets or your own) and a message, then the payment's confirmation (the
// test provider's card form, or Stripe's Payment Element), then waiting for the transaction to settle.
//
// Idempotency: each attempt to tip gets a fresh Idempotency-Key. When the server's answer is lost (a
// network error, a 5xx) and the viewer sends the very same tip again, the key is reused, so the server
// hands back the transaction it may already have made instead of opening a second one. A declined
// payment is final: "Try again" is a new attempt with a new key.
import { lazy, Suspense, useEffect, useId, useRef, useState, type FormEvent } from "react";
import { ApiError } from "../api/errors";
import {
  createTip,
  getTransaction,
  newIdempotencyKey,
  useInvalidateTips,
  type PendingTip,
  type TipCreateBody,
  type TipCreated,
  type TippingInfo,
  type TransactionOut,
} from "../api/tips";
import { FormError } from "../components/FormField";
import { Spinner } from "../components/Status";
import { currencySymbol, formatMoney, messageLength, TIP_MESSAGE_MAX, toMajorInput, validateAmount, type Currency } from "./money";
import { declineText, rangeText, tipErrorText } from "./reasons";
import { Dialog } from "./Dialog";
import { TestCardForm, type ConfirmOutcome } from "./TestCardForm";

const StripeConfirm = lazy(() => import("./StripeConfirm"));

/** How often, and how many times, the dialog asks whether a confirmed payment has settled. */
export const SETTLE_POLL_MS = 1000;
export const SETTLE_ATTEMPTS = 30;

export interface TipRecipient {
  user_id: string;
  username: string;
  display_name?: string | null;
}

type Phase =
  | { step: "form" }
  | { step: "creating" }
  | { step: "confirm"; tip: PendingTip }
  | { step: "settling"; tip: TipCreated }
  | { step: "success"; tx: TransactionOut | TipCreated }
  | { step: "declined"; tip: TipCreated; reason: string }
  | { step: "slow"; tip: TipCreated }
  | { step: "error"; tip: TipCreated; message: string };

/** An attempt whose answer may have been lost: re-sending the same body reuses its key. */
interface Attempt {
  key: string;
  body: string;
}

/** Whether the server may have acted on a request whose answer we did not get (or that may pass later). */
function outcomeUnknown(error: unknown): boolean {
  if (!(error instanceof ApiError)) return true;
  return error.status === 0 || error.status >= 500 || error.status === 429;
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Ask until the transaction leaves `pending` (or the attempts run out: null). Network hiccups are retried. */
async function settle(transactionId: string, signal: AbortSignal): Promise<TransactionOut | null> {
  for (let attempt = 0; attempt < SETTLE_ATTEMPTS && !signal.aborted; attempt += 1) {
    try {
      const tx = await getTransaction(transactionId);
      if (tx.status !== "pending") return tx;
    } catch {
      // Keep asking: the payment went through or not whatever our connection does.
    }
    await wait(SETTLE_POLL_MS, signal);
  }
  return null;
}

export function TipDialog({
  recipient,
  streamId,
  tipping,
  onClose,
}: {
  recipient: TipRecipient;
  streamId: string | null;
  tipping: TippingInfo;
  onClose: () => void;
}) {
  const currency = tipping.currency as Currency;
  const name = recipient.display_name || recipient.username;
  const [phase, setPhase] = useState<Phase>({ step: "form" });
  const [amountText, setAmountText] = useState(() =>
    tipping.presets.length ? toMajorInput(tipping.presets[Math.min(1, tipping.presets.length - 1)]!, currency) : "",
  );
  const [message, setMessage] = useState("");
  const [amountError, setAmountError] = useState<string | undefined>();
  const [formError, setFormError] = useState<string | null>(null);
  const attempt = useRef<Attempt | null>(null);
  const invalidate = useInvalidateTips();
  const amountId = useId();
  const messageId = useId();
  const counterId = useId();
  const amountErrorId = useId();

  const parsed = validateAmount(amountText, currency, tipping.min_amount, tipping.max_amount);
  const length = messageLength(message.trim());
  const tooLong = length > TIP_MESSAGE_MAX;

  // Waiting for the webhook to settle the payment; leaving the dialog stops asking.
  const settlingId = phase.step === "settling" ? phase.tip.transaction_id : null;
  useEffect(() => {
    if (phase.step !== "settling") return;
    const tip = phase.tip;
    const controller = new AbortController();
    void settle(tip.transaction_id, controller.signal).then((tx) => {
      if (controller.signal.aborted) return;
      invalidate();
      if (tx === null) setPhase({ step: "slow", tip });
      else if (tx.status === "succeeded") setPhase({ step: "success", tx });
      else if (tx.status === "failed") setPhase({ step: "declined", tip, reason: declineText(tx.failure_code) });
      else setPhase({ step: "error", tip, message: `This payment was ${tx.status} before it completed.` });
    });
    return () => controller.abort();
    // One loop per transaction, whatever else re-renders.
  }, [settlingId]);

  async function open(body: TipCreateBody) {
    const serialized = JSON.stringify(body);
    const key = attempt.current?.body === serialized ? attempt.current.key : newIdempotencyKey();
    attempt.current = { key, body: serialized };
    setFormError(null);
    setPhase({ step: "creating" });
    try {
      const tip = await createTip(body, key);
      attempt.current = null;
      // A replay of a tip already settled (its answer was lost, the webhook was not).
      if (tip.status === "succeeded") setPhase({ step: "success", tx: tip });
      else if (tip.status === "failed") setPhase({ step: "declined", tip, reason: declineText(tip.failure_code) });
      else if (tip.payment) setPhase({ step: "confirm", tip: { ...tip, payment: tip.payment } });
      else setPhase({ step: "error", tip, message: "The server did not say how to pay for this tip. Try again later." });
    } catch (error) {
      if (!outcomeUnknown(error)) attempt.current = null;
      if (error instanceof ApiError && error.code === "AMOUNT_OUT_OF_RANGE") setAmountError(error.message);
      else setFormError(tipErrorText(error));
      setPhase({ step: "form" });
    }
  }

  const bodyFor = (minor: number): TipCreateBody => {
    const text = message.trim();
    return {
      ...(streamId ? { stream_id: streamId } : { recipient_id: recipient.user_id }),
      amount: minor,
      currency,
      ...(text ? { message: text } : {}),
    };
  };

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (!parsed.ok) {
      setAmountError(parsed.error);
      return;
    }
    setAmountError(undefined);
    if (tooLong) return;
    void open(bodyFor(parsed.minor));
  };

  const onConfirmed = (tip: TipCreated) => (outcome: ConfirmOutcome) => {
    if (outcome.status === "confirmed") setPhase({ step: "settling", tip });
    else setPhase({ step: "declined", tip, reason: declineText(outcome.code, outcome.message) });
  };

  /** A declined tip again: the same amount and message, a new transaction, a new key. */
  const retry = (tip: TipCreated) => {
    attempt.current = null;
    void open({
      ...(tip.stream_id ? { stream_id: tip.stream_id } : { recipient_id: recipient.user_id }),
      amount: tip.amount,
      currency: tip.currency,
      ...(tip.message ? { message: tip.message } : {}),
    });
  };

  const title = phase.step === "success" ? "Tip sent" : `Tip ${name}`;
  const describedBy = [amountError ? amountErrorId : null, length > 0 ? counterId : null].filter(Boolean).join(" ");

  return (
    <Dialog title={title} onClose={onClose} testId="tip-dialog" focusKey={phase.step === "creating" ? "form" : phase.step}>
      {phase.step === "form" || phase.step === "creating" ? (
        <form className="form tip-form" onSubmit={onSubmit} noValidate data-testid="tip-form">
          <FormError message={formError} />
          <fieldset className="tip-amounts">
            <legend>Amount</legend>
            {tipping.presets.length ? (
              <div className="tip-presets" role="group" aria-label="Suggested amounts">
                {tipping.presets.map((preset, i) => {
                  const selected = parsed.ok && parsed.minor === preset;
                  return (
                    <button
                      key={preset}
                      type="button"
                      className={`chip tip-preset${selected ? " tip-preset--on" : ""}`}
                      aria-pressed={selected}
                      data-autofocus={i === 0 ? true : undefined}
                      onClick={() => {
                        setAmountText(toMajorInput(preset, currency));
                        setAmountError(undefined);
                      }}
                      data-testid="tip-preset"
                    >
                      {formatMoney(preset, currency)}
                    </button>
                  );
                })}
              </div>
            ) : null}
            <div className={`field${amountError ? " field--invalid" : ""}`}>
              <label htmlFor={amountId}>Your amount ({currency})</label>
              <div className="tip-amount-input">
                <span className="tip-currency" aria-hidden="true">
                  {currencySymbol(currency)}
                </span>
                <input
                  id={amountId}
                  name="amount"
                  inputMode={currency === "JPY" ? "numeric" : "decimal"}
                  autoComplete="off"
                  value={amountText}
                  aria-invalid={amountError ? true : undefined}
                  aria-describedby={amountError ? amountErrorId : undefined}
                  onChange={(e) => {
                    setAmountText(e.target.value);
                    setAmountError(undefined);
                  }}
                  data-autofocus={tipping.presets.length ? undefined : true}
                  data-testid="tip-amount"
                />
              </div>
              {amountError ? (
                <p id={amountErrorId} className="field-error" role="alert" data-testid="tip-amount-error">
                  {amountError}
                </p>
              ) : (
                <p className="field-hint">
                  {rangeText(tipping.min_amount, tipping.max_amount, currency)}
                  {currency === "JPY" ? " in whole yen" : ""}
                </p>
              )}
            </div>
          </fieldset>
          <div className={`field${tooLong ? " field--invalid" : ""}`}>
            <label htmlFor={messageId}>Message (optional)</label>
            <textarea
              id={messageId}
              name="message"
              rows={3}
              value={message}
              placeholder={`Say something to ${name}`}
              aria-invalid={tooLong || undefined}
              aria-describedby={describedBy.includes(counterId) ? counterId : undefined}
              onChange={(e) => setMessage(e.target.value)}
              data-testid="tip-message"
            />
            <p
              id={counterId}
              className={`field-hint tip-counter${tooLong ? " chat-counter--over" : ""}`}
              aria-live="polite"
              data-testid="tip-counter"
            >
              {length}/{TIP_MESSAGE_MAX}
              {tooLong ? " · too long" : ""}
            </p>
            <p className="field-hint">Shown in the live chat with your tip.</p>
          </div>
          <div className="form-actions">
            <button type="submit" className="btn btn--primary" disabled={phase.step === "creating" || tooLong} data-testid="tip-submit">
              {phase.step === "creating"
                ? "Starting…"
                : parsed.ok
                  ? `Continue with ${formatMoney(parsed.minor, currency)}`
                  : "Continue"}
            </button>
            <button type="button" className="btn btn--ghost" onClick={onClose}>
              Cancel
            </button>
          </div>
        </form>
      ) : phase.step === "confirm" ? (
        <div className="tip-confirm" data-testid="tip-confirm" data-provider={phase.tip.payment.provider}>
          <p className="tip-summary">
            {formatMoney(phase.tip.amount, phase.tip.currency)} to <strong>{name}</strong>
            {phase.tip.message ? <span className="muted"> · “{phase.tip.message}”</span> : null}
          </p>
          {phase.tip.payment.provider === "stripe" ? (
            phase.tip.payment.publishable_key || tipping.publishable_key ? (
              <Suspense fallback={<Spinner label="Loading the payment form…" />}>
                <StripeConfirm
                  tip={phase.tip}
                  publishableKey={(phase.tip.payment.publishable_key || tipping.publishable_key)!}
                  onDone={onConfirmed(phase.tip)}
                  onCancel={onClose}
                />
              </Suspense>
            ) : (
              <p className="form-error" role="alert">
                Card payments are not configured on this server (no Stripe publishable key).
              </p>
            )
          ) : (
            <TestCardForm tip={phase.tip} onDone={onConfirmed(phase.tip)} onCancel={onClose} />
          )}
        </div>
      ) : phase.step === "settling" ? (
        <div className="tip-state" role="status" data-testid="tip-processing">
          <span className="spinner" aria-hidden="true" />
          <p className="stage-title">Processing your tip…</p>
          <p className="muted">This takes a few seconds. You can close this window: the tip goes through either way.</p>
        </div>
      ) : phase.step === "success" ? (
        <div className="tip-state tip-state--success" role="status" data-testid="tip-success">
          <p className="stage-title">
            Thanks! Your tip of {formatMoney(phase.tx.amount, phase.tx.currency)} was sent.
          </p>
          <p className="muted">
            {streamId ? `It shows in the chat for everyone watching ${name}.` : `${name} gets a notification.`}
          </p>
          <div className="form-actions">
            <button type="button" className="btn btn--primary" onClick={onClose} data-autofocus>
              Done
            </button>
          </div>
        </div>
      ) : phase.step === "declined" ? (
        <div className="tip-state tip-state--declined" data-testid="tip-declined">
          <p className="form-error" role="alert">
            <strong>Payment declined.</strong> {phase.reason}
          </p>
          <p className="muted">Nothing was charged. Try again with another card.</p>
          <div className="form-actions">
            <button type="button" className="btn btn--primary" onClick={() => retry(phase.tip)} data-testid="tip-retry">
              Try again
            </button>
            <button type="button" className="btn btn--ghost" onClick={onClose}>
              Close
            </button>
          </div>
        </div>
      ) : phase.step === "slow" ? (
        <div className="tip-state" role="status" data-testid="tip-slow">
          <p className="stage-title">Your payment is still processing</p>
          <p className="muted">
            It is taking longer than usual. Your tip of {formatMoney(phase.tip.amount, phase.tip.currency)} appears under
            Sent tips on your earnings page once it completes; you are not charged twice.
          </p>
          <div className="form-actions">
            <button type="button" className="btn btn--secondary" onClick={() => setPhase({ step: "settling", tip: phase.tip })}>
              Check again
            </button>
            <button type="button" className="btn btn--ghost" onClick={onClose}>
              Close
            </button>
          </div>
        </div>
      ) : (
        <div className="tip-state" data-testid="tip-error">
          <p className="form-error" role="alert">
            {phase.message}
          </p>
          <div className="form-actions">
            <button type="button" className="btn btn--ghost" onClick={onClose}>
              Close
            </button>
          </div>
        </div>
      )}
    </Dialog>
  );
}
