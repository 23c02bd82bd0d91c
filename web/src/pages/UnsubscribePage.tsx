// The unsubscribe link of a notification email (/unsubscribe?token=…). No sign-in: the signed token is
// the proof. Nothing happens on load, because mail scanners open links; one click confirms.
import { useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { ApiError, errorMessage } from "../api/errors";
import { FormError } from "../components/FormField";
import { usePageTitle } from "../lib/usePageTitle";

type State =
  | { step: "ready" }
  | { step: "sending" }
  | { step: "done"; username: string | null }
  | { step: "failed"; message: string };

/** The server accepts at most this many characters; anything longer is not one of our links. */
const MAX_TOKEN = 200;

export function invalidLinkMessage(err: unknown): string {
  if (err instanceof ApiError && (err.code === "UNSUBSCRIBE_TOKEN_INVALID" || err.code === "VALIDATION_ERROR")) {
    return "This unsubscribe link is not valid (it may be cut short). You can turn emails off in your notification settings.";
  }
  return errorMessage(err);
}

export function UnsubscribePage() {
  usePageTitle("Unsubscribe");
  const [params] = useSearchParams();
  const token = (params.get("token") ?? "").trim();
  const usable = token.length > 0 && token.length <= MAX_TOKEN;
  const [state, setState] = useState<State>({ step: "ready" });

  const confirm = async () => {
    setState({ step: "sending" });
    try {
      const result = await unwrap(api.POST("/api/notifications/unsubscribe", { body: { token } }));
      setState({ step: "done", username: result.username ?? null });
    } catch (err) {
      setState({ step: "failed", message: invalidLinkMessage(err) });
    }
  };

  return (
    <section className="page page--auth" aria-labelledby="unsubscribe-title">
      <div className="auth-card card" data-testid="unsubscribe">
        <h1 id="unsubscribe-title">Notification emails</h1>
        {!usable ? (
          <FormError message="This unsubscribe link is incomplete. Open it again from the email, or turn emails off in your notification settings." />
        ) : state.step === "done" ? (
          <div role="status" data-testid="unsubscribe-done">
            <p>
              Done: {state.username ? <strong>@{state.username}</strong> : "this account"} will get no more
              notification emails.
            </p>
            <p className="muted">
              In-app notifications stay on. You can turn emails back on in{" "}
              <Link to="/settings/notifications">notification settings</Link>.
            </p>
          </div>
        ) : (
          <>
            <p className="muted">Stop getting notification emails (go-live alerts, reminders, new followers) for this account?</p>
            <FormError message={state.step === "failed" ? state.message : null} />
            <button
              type="button"
              className="btn btn--primary btn--block"
              onClick={() => void confirm()}
              disabled={state.step === "sending"}
            >
              {state.step === "sending" ? "Unsubscribing…" : "Unsubscribe from emails"}
            </button>
          </>
        )}
      </div>
    </section>
  );
}
