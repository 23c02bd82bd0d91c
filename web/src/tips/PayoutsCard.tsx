// The dashboard's payouts card (can this creator receive tips, and how to get there: Stripe Connect
// Express onboarding), and the two pages Stripe sends the creator back to.
import { useEffect, useRef, useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Link } from "react-router-dom";
import { errorMessage } from "../api/errors";
import { requestOnboardingLink, tipKeys, useOnboard, usePayouts, type PayoutStatus } from "../api/tips";
import { Spinner } from "../components/Status";
import { usePageTitle } from "../lib/usePageTitle";

interface Described {
  label: string;
  text: string;
  /** The onboarding button's words, when onboarding is what to do next. */
  action: string | null;
}

export function describePayouts(payouts: PayoutStatus): Described {
  switch (payouts.status) {
    case "not_needed":
      return {
        label: "Ready for tips",
        text: "Tips work without onboarding because this server uses test payments: no real card is charged and no money is paid out.",
        action: null,
      };
    case "disabled":
      return { label: "Tips are off", text: "Tips are turned off on this server.", action: null };
    case "enabled":
      return {
        label: "Payouts on",
        text: "You can receive tips. They go to your Stripe account, and Stripe pays them out to your bank.",
        action: null,
      };
    case "pending":
      return {
        label: "Onboarding not finished",
        text: "Stripe needs a few more details before viewers can tip you. It takes a few minutes.",
        action: "Continue onboarding",
      };
    case "restricted":
      return {
        label: "Action needed",
        text: payouts.can_receive_tips
          ? "Stripe needs more details: tips still arrive, but payouts to your bank are paused until you add them."
          : "Stripe needs more details before you can receive tips again.",
        action: "Continue onboarding",
      };
    case "not_started":
    default:
      return {
        label: "Not set up",
        text: "Set up payouts to receive tips. Stripe checks your identity and takes your bank details; we never see them.",
        action: "Set up payouts",
      };
  }
}

function OnboardButton({ label }: { label: string }) {
  const onboard = useOnboard();
  return (
    <>
      {onboard.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(onboard.error)}
        </p>
      ) : null}
      <button
        type="button"
        className="btn btn--primary"
        disabled={onboard.isPending || onboard.isSuccess}
        onClick={() => onboard.mutate()}
        data-testid="payouts-onboard"
      >
        {onboard.isPending || onboard.isSuccess ? "Opening Stripe…" : label}
      </button>
    </>
  );
}

function StatusLine({ payouts }: { payouts: PayoutStatus }) {
  const { label, text } = describePayouts(payouts);
  return (
    <>
      <p className={`payout-status payout-status--${payouts.status}`} data-testid="payouts-status" data-status={payouts.status}>
        {label}
      </p>
      <p className="muted" data-testid="payouts-text">
        {text}
      </p>
    </>
  );
}

export function PayoutsCard() {
  const payouts = usePayouts();
  return (
    <section className="card dash-card" aria-labelledby="payouts-title" data-testid="payouts-card">
      <div className="dash-card-head">
        <h2 id="payouts-title">Tips and payouts</h2>
        <p className="muted">
          Viewers tip you from your channel and watch pages. <Link to="/earnings">See your earnings</Link>
        </p>
      </div>
      {payouts.isPending ? (
        <Spinner label="Checking your payouts…" />
      ) : payouts.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(payouts.error)}
        </p>
      ) : (
        <>
          <StatusLine payouts={payouts.data} />
          {describePayouts(payouts.data).action ? (
            <div className="form-actions">
              <OnboardButton label={describePayouts(payouts.data).action!} />
            </div>
          ) : null}
        </>
      )}
    </section>
  );
}

/** Stripe sends the creator here when onboarding is done (or they left it): say where things stand now. */
export function PayoutsReturnPage() {
  usePageTitle("Payouts");
  const client = useQueryClient();
  // Whatever was cached is from before the creator went to Stripe.
  useEffect(() => void client.invalidateQueries({ queryKey: tipKeys.payouts }), [client]);
  const payouts = usePayouts();
  const fresh = payouts.data !== undefined && !payouts.isFetching;
  return (
    <section className="page page--narrow" aria-labelledby="payouts-return-title" data-testid="payouts-return">
      <h1 id="payouts-return-title">Payouts</h1>
      {payouts.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(payouts.error)}
        </p>
      ) : !fresh ? (
        <Spinner label="Checking with Stripe…" />
      ) : (
        <div className="card settings-card">
          <p>
            {payouts.data.can_receive_tips ? "You are all set: viewers can tip you now." : "You cannot receive tips yet."}
          </p>
          <StatusLine payouts={payouts.data} />
          <div className="form-actions">
            {describePayouts(payouts.data).action ? <OnboardButton label={describePayouts(payouts.data).action!} /> : null}
            <Link to="/dashboard" className="btn btn--ghost">
              Back to the dashboard
            </Link>
          </div>
        </div>
      )}
    </section>
  );
}

/** Stripe's onboarding link expired (or was used): get a new one and go there. */
export function PayoutsRefreshPage() {
  usePageTitle("Payouts");
  const [error, setError] = useState<unknown>(null);
  const asked = useRef(false);
  useEffect(() => {
    // Once per visit (StrictMode runs effects twice; each link is single use).
    if (asked.current) return;
    asked.current = true;
    requestOnboardingLink().then(
      (url) => window.location.assign(url),
      (e: unknown) => setError(e ?? new Error("Could not get a new link.")),
    );
  }, []);
  return (
    <section className="page page--narrow" aria-labelledby="payouts-refresh-title" data-testid="payouts-refresh">
      <h1 id="payouts-refresh-title">Payouts</h1>
      {error ? (
        <>
          <p className="form-error" role="alert">
            Could not get a new onboarding link: {errorMessage(error)}
          </p>
          <Link to="/dashboard" className="btn btn--secondary">
            Back to the dashboard
          </Link>
        </>
      ) : (
        <>
          <Spinner label="Getting a new onboarding link…" />
          <p className="muted">Getting a new onboarding link from Stripe…</p>
        </>
      )}
    </section>
  );
}
