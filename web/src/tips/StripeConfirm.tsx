// Confirming a tip with Stripe's Payment Element (LS_PAYMENTS=stripe). Card data goes from the browser
// to Stripe only (PCI DSS stays with Stripe). This module, and Stripe.js with it, loads only when a
// creator's provider is stripe: TipDialog imports it lazily.
import { useEffect, useState, type FormEvent } from "react";
import { loadStripe, type Stripe } from "@stripe/stripe-js";
import { Elements, PaymentElement, useElements, useStripe } from "@stripe/react-stripe-js";
import type { PendingTip } from "../api/tips";
import { FormError } from "../components/FormField";
import { formatMoney } from "./money";
import type { ConfirmOutcome } from "./TestCardForm";

// One Stripe.js instance per publishable key for the page's life (loadStripe must not run per render).
const instances = new Map<string, Promise<Stripe | null>>();

function stripeFor(publishableKey: string): Promise<Stripe | null> {
  let instance = instances.get(publishableKey);
  if (!instance) {
    // A script that did not load (offline, blocked) resolves to null, and the next attempt loads again.
    instance = loadStripe(publishableKey).catch(() => null);
    void instance.then((s) => s === null && instances.delete(publishableKey));
    instances.set(publishableKey, instance);
  }
  return instance;
}

/** Tests start each case with no Stripe instance. */
export function resetStripeForTests(): void {
  instances.clear();
}

function PaymentForm({ tip, onDone, onCancel }: { tip: PendingTip; onDone: (o: ConfirmOutcome) => void; onCancel: () => void }) {
  const stripe = useStripe();
  const elements = useElements();
  const [busy, setBusy] = useState(false);
  const [ready, setReady] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    if (!stripe || !elements) return;
    setBusy(true);
    setError(null);
    try {
      const result = await stripe.confirmPayment({
        elements,
        // Cards finish here; a method that must leave the page comes back to it.
        redirect: "if_required",
        confirmParams: { return_url: window.location.href },
      });
      if (result.error) {
        const e = result.error;
        // A card the bank refused fails the transaction (our webhook marks it failed): a retry is a new tip.
        if (e.type === "card_error") onDone({ status: "declined", code: e.decline_code ?? e.code ?? null, message: e.message ?? null });
        else setError(e.message ?? "The payment could not be confirmed. Try again.");
        return;
      }
      if (result.paymentIntent.status === "requires_payment_method") {
        onDone({ status: "declined", code: result.paymentIntent.last_payment_error?.code ?? null, message: result.paymentIntent.last_payment_error?.message ?? null });
      } else {
        onDone({ status: "confirmed" });
      }
    } catch {
      setError("Could not reach Stripe. Check your connection and pay again: the card is charged at most once.");
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="form tip-card-form" onSubmit={(e) => void onSubmit(e)} noValidate data-testid="stripe-form">
      <FormError message={error} />
      <div className="tip-stripe-element">
        <PaymentElement onReady={() => setReady(true)} />
        {ready ? null : <p className="muted">Loading the secure payment form…</p>}
      </div>
      <div className="form-actions">
        <button type="submit" className="btn btn--primary" disabled={busy || !stripe || !elements} data-testid="pay-button">
          {busy ? "Paying…" : `Pay ${formatMoney(tip.amount, tip.currency)}`}
        </button>
        <button type="button" className="btn btn--ghost" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export default function StripeConfirm({
  tip,
  publishableKey,
  onDone,
  onCancel,
}: {
  tip: PendingTip;
  publishableKey: string;
  onDone: (outcome: ConfirmOutcome) => void;
  onCancel: () => void;
}) {
  const [stripe] = useState(() => stripeFor(publishableKey));
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    void stripe.then((s) => live && s === null && setFailed(true));
    return () => {
      live = false;
    };
  }, [stripe]);
  if (failed) {
    return (
      <div className="tip-state" data-testid="stripe-failed">
        <p className="form-error" role="alert">
          Stripe's payment form could not be loaded. Check your connection (or an ad blocker) and try again.
        </p>
        <div className="form-actions">
          <button type="button" className="btn btn--ghost" onClick={onCancel}>
            Back
          </button>
        </div>
      </div>
    );
  }
  return (
    <Elements
      stripe={stripe}
      options={{ clientSecret: tip.payment.client_secret, appearance: { theme: "night", variables: { colorPrimary: "#8b5cf6" } } }}
    >
      <PaymentForm tip={tip} onDone={onDone} onCancel={onCancel} />
    </Elements>
  );
}
