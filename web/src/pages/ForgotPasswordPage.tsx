import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { formErrors } from "../api/errors";
import { forgotPassword } from "../auth/accountEmails";
import { FormError, TextField } from "../components/FormField";
import { checkEmail } from "../lib/validation";
import { usePageTitle } from "../lib/usePageTitle";

export function ForgotPasswordPage() {
  usePageTitle("Forgot your password?");
  const [email, setEmail] = useState("");
  const [fieldError, setFieldError] = useState<string | undefined>();
  const [formError, setFormError] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);
  const [sentTo, setSentTo] = useState<string | null>(null);

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    const address = email.trim();
    const problem = checkEmail(address);
    setFieldError(problem);
    setFormError(null);
    if (problem) return;
    setSubmitting(true);
    try {
      await forgotPassword(address);
      setSentTo(address);
    } catch (err) {
      const { fields, form } = formErrors(err, ["email"]);
      setFieldError(fields.email);
      setFormError(form);
    } finally {
      setSubmitting(false);
    }
  };

  return (
    <section className="page page--auth" aria-labelledby="forgot-title">
      <div className="auth-card card">
        <h1 id="forgot-title">Forgot your password?</h1>
        {sentTo !== null ? (
          <div role="status" data-testid="forgot-sent">
            <p className="notice">
              If an account uses <strong>{sentTo}</strong>, we have sent it a link to choose a new password. The link
              works once, for 30 minutes.
            </p>
            <p className="muted">Nothing arrived? Check your spam folder, or try again.</p>
            <button type="button" className="btn btn--ghost btn--sm" onClick={() => setSentTo(null)}>
              Try again
            </button>
          </div>
        ) : (
          <>
            <p className="muted">Enter your account's email address and we will send you a link to choose a new password.</p>
            <form onSubmit={onSubmit} noValidate className="form" data-testid="forgot-form">
              <FormError message={formError} />
              <TextField
                label="Email"
                name="email"
                type="email"
                autoComplete="email"
                value={email}
                error={fieldError}
                onChange={(e) => setEmail(e.target.value)}
              />
              <button type="submit" className="btn btn--primary btn--block" disabled={submitting}>
                {submitting ? "Sending…" : "Send me a link"}
              </button>
            </form>
          </>
        )}
        <p className="auth-switch muted">
          Remembered it? <Link to="/login">Log in</Link>
        </p>
      </div>
    </section>
  );
}
