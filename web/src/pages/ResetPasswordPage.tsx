import { useEffect, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { ApiError, formErrors } from "../api/errors";
import { resetPassword } from "../auth/accountEmails";
import { clearSession } from "../auth/session";
import { FormError, TextField } from "../components/FormField";
import { checkNewPassword, compact } from "../lib/validation";
import { usePageTitle } from "../lib/usePageTitle";

const LINK_PROBLEMS = new Set(["INVALID_RESET_TOKEN", "RESET_TOKEN_EXPIRED", "RESET_TOKEN_USED"]);

export function ResetPasswordPage() {
  usePageTitle("Choose a new password");
  const [params, setParams] = useSearchParams();
  // Read once: the token leaves the address bar (history, Referer) as soon as the page has it.
  const [token] = useState(() => params.get("token"));
  const [form, setForm] = useState({ password: "", confirm: "" });
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [linkProblem, setLinkProblem] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);
  const [done, setDone] = useState(false);

  useEffect(() => {
    if (params.has("token")) setParams({}, { replace: true });
  }, [params, setParams]);

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    if (!token) return;
    const errors = compact({
      password: checkNewPassword(form.password),
      confirm: form.confirm === form.password ? undefined : "The two passwords differ.",
    });
    setFieldErrors(errors);
    setFormError(null);
    if (Object.keys(errors).length) return;
    setSubmitting(true);
    try {
      await resetPassword(token, form.password);
      // Every session of the account has ended, this browser's too.
      clearSession();
      setDone(true);
    } catch (err) {
      if (err instanceof ApiError && LINK_PROBLEMS.has(err.code)) {
        setLinkProblem(err.message);
      } else {
        const { fields, form: message } = formErrors(err, ["password"]);
        setFieldErrors(fields);
        setFormError(message);
      }
    } finally {
      setSubmitting(false);
    }
  };

  const badLink = !token ? "This page needs the link from the password reset email." : linkProblem;

  return (
    <section className="page page--auth" aria-labelledby="reset-title">
      <div className="auth-card card">
        <h1 id="reset-title">Choose a new password</h1>
        {done ? (
          <div role="status" data-testid="reset-done">
            <p className="notice">Your password is changed, and every device that was signed in has been signed out.</p>
            <Link className="btn btn--primary btn--block" to="/login">
              Log in with the new password
            </Link>
          </div>
        ) : badLink ? (
          <>
            <p className="form-error" role="alert">
              {badLink}
            </p>
            <p>
              <Link to="/forgot-password">Ask for a new link</Link>
            </p>
          </>
        ) : (
          <form onSubmit={onSubmit} noValidate className="form" data-testid="reset-form">
            <FormError message={formError} />
            <TextField
              label="New password"
              name="password"
              type="password"
              autoComplete="new-password"
              hint="At least 8 characters. Common passwords are refused."
              value={form.password}
              error={fieldErrors.password}
              onChange={(e) => setForm({ ...form, password: e.target.value })}
            />
            <TextField
              label="New password, again"
              name="confirm"
              type="password"
              autoComplete="new-password"
              value={form.confirm}
              error={fieldErrors.confirm}
              onChange={(e) => setForm({ ...form, confirm: e.target.value })}
            />
            <button type="submit" className="btn btn--primary btn--block" disabled={submitting}>
              {submitting ? "Saving…" : "Change my password"}
            </button>
          </form>
        )}
      </div>
    </section>
  );
}
