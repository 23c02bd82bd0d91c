import { useState, type FormEvent } from "react";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router-dom";
import { formErrors } from "../api/errors";
import { login, useSession } from "../auth/auth";
import { FormError, TextField } from "../components/FormField";
import { compact, safeNext } from "../lib/validation";
import { usePageTitle } from "../lib/usePageTitle";

export function LoginPage() {
  usePageTitle("Log in");
  const { status } = useSession();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const next = safeNext(params.get("next"));
  const [form, setForm] = useState({ login: "", password: "" });
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);

  if (status === "authenticated" && !submitting) return <Navigate to={next} replace />;

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    const errors = compact({
      login: form.login.trim() ? undefined : "Enter your email or username.",
      password: form.password ? undefined : "Enter your password.",
    });
    setFieldErrors(errors);
    setFormError(null);
    if (Object.keys(errors).length) return;
    setSubmitting(true);
    try {
      await login({ login: form.login.trim(), password: form.password });
      navigate(next, { replace: true });
    } catch (err) {
      const { fields, form: message } = formErrors(err, ["login", "password"]);
      setFieldErrors(fields);
      setFormError(message);
      setSubmitting(false);
    }
  };

  return (
    <section className="page page--auth" aria-labelledby="login-title">
      <div className="auth-card card">
        <h1 id="login-title">Welcome back</h1>
        <p className="muted">Log in to follow creators, chat and manage your channel.</p>
        <form onSubmit={onSubmit} noValidate className="form" data-testid="login-form">
          <FormError message={formError} />
          <TextField
            label="Email or username"
            name="login"
            autoComplete="username"
            value={form.login}
            error={fieldErrors.login}
            onChange={(e) => setForm({ ...form, login: e.target.value })}
          />
          <TextField
            label="Password"
            name="password"
            type="password"
            autoComplete="current-password"
            value={form.password}
            error={fieldErrors.password}
            onChange={(e) => setForm({ ...form, password: e.target.value })}
          />
          <p className="field-hint">
            <Link to="/forgot-password">Forgot password?</Link>
          </p>
          <button type="submit" className="btn btn--primary btn--block" disabled={submitting}>
            {submitting ? "Logging in…" : "Log in"}
          </button>
        </form>
        {formError && (
          <p className="field-hint" data-testid="login-signup-hint">
            Just signed up? If we emailed you a link, open it first: your account exists once you do.
          </p>
        )}
        <p className="auth-switch muted">
          New to LiveStream Pro? <Link to="/register">Create an account</Link>
        </p>
      </div>
    </section>
  );
}
