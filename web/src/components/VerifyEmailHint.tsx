import { useState } from "react";
import { errorMessage } from "../api/errors";
import { resendVerification } from "../auth/accountEmails";
import { useSession } from "../auth/auth";

/** In account settings: the address is not confirmed yet, and a button that mails a new link. */
export function VerifyEmailHint() {
  const { user } = useSession();
  const [state, setState] = useState<{ kind: "idle" | "sending" | "sent" } | { kind: "failed"; message: string }>({
    kind: "idle",
  });
  if (!user || user.email_verified) return null;

  const send = async () => {
    setState({ kind: "sending" });
    try {
      await resendVerification();
      setState({ kind: "sent" });
    } catch (err) {
      setState({ kind: "failed", message: errorMessage(err) });
    }
  };

  return (
    <div className="notice" data-testid="verify-email-hint">
      <p>
        Your email address <strong>{user.email}</strong> is not confirmed yet.
      </p>
      {state.kind === "sent" ? (
        <p role="status">We have sent a new link to {user.email}. It works once, for 24 hours.</p>
      ) : (
        <button type="button" className="btn btn--secondary btn--sm" onClick={send} disabled={state.kind === "sending"}>
          {state.kind === "sending" ? "Sending…" : "Send me a confirmation link"}
        </button>
      )}
      {state.kind === "failed" && (
        <p className="form-error" role="alert">
          {state.message}
        </p>
      )}
    </div>
  );
}
