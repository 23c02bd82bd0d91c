import { useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { ApiError, errorMessage } from "../api/errors";
import { verifyEmail, type VerifyEmailResult } from "../auth/accountEmails";
import { useSession } from "../auth/auth";
import { updateUser } from "../auth/session";
import { usePageTitle } from "../lib/usePageTitle";

type State =
  | { kind: "missing" }
  | { kind: "ready" }
  | { kind: "verifying" }
  | { kind: "done"; result: VerifyEmailResult }
  | { kind: "failed"; code: string; message: string };

/** What to do next after each way a link can fail. */
function FailureHelp({ code, signedIn }: { code: string; signedIn: boolean }) {
  if (code === "VERIFICATION_TOKEN_USED") {
    return (
      <p>
        If it was you who used it, your address is already confirmed: <Link to="/login">log in</Link>.
      </p>
    );
  }
  if (code === "USERNAME_TAKEN" || code === "EMAIL_TAKEN") {
    return (
      <p>
        <Link to="/register">Sign up again</Link> with another username.
      </p>
    );
  }
  return signedIn ? (
    <p>
      Ask for a new link in <Link to="/settings/profile">your account settings</Link>.
    </p>
  ) : (
    <p>
      Signing up? <Link to="/register">Sign up again</Link> to get a new link. Already have an account?{" "}
      <Link to="/login">Log in</Link> and ask for a new link in your settings.
    </p>
  );
}

export function VerifyEmailPage() {
  usePageTitle("Confirm your email");
  const [params, setParams] = useSearchParams();
  const { status, user } = useSession();
  // Read once: the token leaves the address bar (history, Referer) as soon as the page has it.
  const [token] = useState(() => params.get("token"));
  // The link is spent only on a click: mail scanners that open links (and run their scripts) must not use it up.
  const [state, setState] = useState<State>(token ? { kind: "ready" } : { kind: "missing" });

  useEffect(() => {
    if (params.has("token")) setParams({}, { replace: true });
  }, [params, setParams]);

  const confirm = () => {
    if (!token || state.kind !== "ready") return;
    setState({ kind: "verifying" });
    verifyEmail(token).then(
      (result) => setState({ kind: "done", result }),
      (err: unknown) =>
        setState({
          kind: "failed",
          code: err instanceof ApiError ? err.code : "NETWORK",
          message: errorMessage(err),
        }),
    );
  };

  useEffect(() => {
    // The signed-in account whose address this confirmed shows it at once (the settings hint goes).
    if (state.kind === "done" && user && user.username === state.result.username && !user.email_verified) {
      updateUser({ ...user, email: state.result.email, email_verified: true });
    }
  }, [state, user]);

  return (
    <section className="page page--auth" aria-labelledby="verify-title">
      <div className="auth-card card" data-testid="verify-email">
        <h1 id="verify-title">Confirm your email</h1>
        {state.kind === "missing" && (
          <p className="form-error" role="alert">
            This page needs the link from the email we sent you. Open the link in the email, or copy all of it into
            the address bar.
          </p>
        )}
        {(state.kind === "ready" || state.kind === "verifying") && (
          <>
            <p className="muted">
              Confirm that this email address is yours: it finishes signing up, or confirms the new address of your
              account.
            </p>
            <button
              type="button"
              className="btn btn--primary btn--block"
              onClick={confirm}
              disabled={state.kind === "verifying"}
            >
              {state.kind === "verifying" ? "Confirming…" : "Confirm my address"}
            </button>
          </>
        )}
        {state.kind === "done" && state.result.account_created && (
          <div role="status">
            <p className="notice">
              Your email address <strong>{state.result.email}</strong> is confirmed and your account{" "}
              <strong>{state.result.username}</strong> is ready.
            </p>
            <Link className="btn btn--primary btn--block" to="/login">
              Log in
            </Link>
          </div>
        )}
        {state.kind === "done" && !state.result.account_created && (
          <div role="status">
            <p className="notice">
              Your email address <strong>{state.result.email}</strong> is confirmed.
            </p>
            <Link to={status === "authenticated" ? "/" : "/login"}>
              {status === "authenticated" ? "Go to the home page" : "Log in"}
            </Link>
          </div>
        )}
        {state.kind === "failed" && (
          <>
            <p className="form-error" role="alert">
              {state.message}
            </p>
            <FailureHelp code={state.code} signedIn={status === "authenticated"} />
          </>
        )}
      </div>
    </section>
  );
}
