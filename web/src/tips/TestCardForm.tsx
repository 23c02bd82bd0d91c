// The test provider's card form (LS_PAYMENTS=test): no real card is charged, and the numbers below
// behave like Stripe's test cards. It posts to our own /api/payments/test/confirm.
import { useState, type FormEvent } from "react";
import { confirmTestPayment, type PendingTip } from "../api/tips";
import { ApiError, errorMessage } from "../api/errors";
import { FormError, TextField } from "../components/FormField";
import { compact } from "../lib/validation";
import { formatMoney } from "./money";

export const TEST_CARDS = [
  { number: "4242 4242 4242 4242", outcome: "succeeds" },
  { number: "4000 0000 0000 0002", outcome: "is declined" },
] as const;

export type ConfirmOutcome = { status: "confirmed" } | { status: "declined"; code: string | null; message: string | null };

/** "4242424242424242" → "4242 4242 4242 4242", as it is typed. */
export function groupCardNumber(value: string): string {
  return value.replace(/\D/g, "").slice(0, 19).replace(/(\d{4})(?=\d)/g, "$1 ");
}

/** "0430" or "04/30" → "04 / 30". */
export function formatExpiry(value: string): string {
  const d = value.replace(/\D/g, "").slice(0, 4);
  return d.length > 2 ? `${d.slice(0, 2)} / ${d.slice(2)}` : d;
}

export function parseExpiry(value: string, now: Date = new Date()): { month: number; year: number } | string {
  const match = /^(\d{2})\s*\/?\s*(\d{2})$/.exec(value.trim());
  if (!match) return "Enter the expiry date as MM / YY.";
  const month = Number(match[1]);
  const year = 2000 + Number(match[2]);
  if (month < 1 || month > 12) return "Enter a month from 01 to 12.";
  const thisMonth = now.getFullYear() * 12 + now.getMonth();
  if (year * 12 + (month - 1) < thisMonth) return "This card has expired.";
  return { month, year };
}

export function TestCardForm({
  tip,
  onDone,
  onCancel,
}: {
  tip: PendingTip;
  onDone: (outcome: ConfirmOutcome) => void;
  onCancel: () => void;
}) {
  const [form, setForm] = useState({ number: "", expiry: "", cvc: "" });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    const digits = form.number.replace(/\D/g, "");
    const expiry = parseExpiry(form.expiry);
    const next = compact({
      number: digits.length < 12 ? "Enter the card number." : undefined,
      expiry: typeof expiry === "string" ? expiry : undefined,
      cvc: /^\d{3,4}$/.test(form.cvc.trim()) ? undefined : "Enter the 3 or 4 digits on the back.",
    });
    setErrors(next);
    setFormError(null);
    if (Object.keys(next).length || typeof expiry === "string") return;
    setBusy(true);
    try {
      const result = await confirmTestPayment({
        payment_intent_id: tip.payment.payment_intent_id,
        client_secret: tip.payment.client_secret,
        card_number: digits,
        exp_month: expiry.month,
        exp_year: expiry.year,
        cvc: form.cvc.trim(),
      });
      if (result.status === "succeeded") onDone({ status: "confirmed" });
      else onDone({ status: "declined", code: result.error?.code ?? null, message: result.error?.message ?? null });
    } catch (error) {
      if (error instanceof ApiError && error.code === "INVALID_CARD_NUMBER") {
        setErrors({ number: error.message || "That card number is not valid." });
      } else if (error instanceof ApiError && error.status === 400) {
        // An expired date, a bad CVC: the card's fault, not the connection's.
        const field = /exp/i.test(error.code) ? "expiry" : /cvc/i.test(error.code) ? "cvc" : null;
        if (field) setErrors({ [field]: error.message });
        else setFormError(error.message);
      } else {
        setFormError(
          error instanceof ApiError && error.code === "NETWORK_ERROR"
            ? "Could not reach the server. Pay again: the card is charged at most once."
            : errorMessage(error),
        );
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="form tip-card-form" onSubmit={(e) => void onSubmit(e)} noValidate data-testid="test-card-form">
      <p className="notice tip-test-notice" data-testid="test-card-hint">
        <strong>Test payments.</strong> This server does not charge real cards. Use{" "}
        {TEST_CARDS.map((card, i) => (
          <span key={card.number}>
            {i > 0 ? " or " : null}
            <code>{card.number}</code> ({card.outcome})
          </span>
        ))}
        , any future date and any CVC.
      </p>
      <FormError message={formError} />
      <TextField
        label="Card number"
        name="cardnumber"
        inputMode="numeric"
        autoComplete="cc-number"
        placeholder="4242 4242 4242 4242"
        value={form.number}
        error={errors.number}
        data-autofocus
        onChange={(e) => setForm({ ...form, number: groupCardNumber(e.target.value) })}
      />
      <div className="tip-card-row">
        <TextField
          label="Expiry (MM / YY)"
          name="exp-date"
          inputMode="numeric"
          autoComplete="cc-exp"
          placeholder="MM / YY"
          value={form.expiry}
          error={errors.expiry}
          onChange={(e) => setForm({ ...form, expiry: formatExpiry(e.target.value) })}
        />
        <TextField
          label="CVC"
          name="cvc"
          inputMode="numeric"
          autoComplete="cc-csc"
          placeholder="123"
          maxLength={4}
          value={form.cvc}
          error={errors.cvc}
          onChange={(e) => setForm({ ...form, cvc: e.target.value.replace(/\D/g, "") })}
        />
      </div>
      <div className="form-actions">
        <button type="submit" className="btn btn--primary" disabled={busy} data-testid="pay-button">
          {busy ? "Paying…" : `Pay ${formatMoney(tip.amount, tip.currency)}`}
        </button>
        <button type="button" className="btn btn--ghost" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
