import { useState, type FormEvent } from "react";
import { Link, Navigate, useNavigate } from "react-router-dom";
import { formErrors } from "../api/errors";
import { register, useSession } from "../auth/auth";
import { FormError, TextField } from "../components/FormField";
import { checkEmail, checkNewPassword, checkUsername, compact } from "../lib/validation";
import { usePageTitle } from "../lib/usePageTitle";

export function RegisterPage() {
  usePageTitle("Create your account");
  const { status } = useSession();
  const navigate = useNavigate();
  const [form, setForm] = useState({ username: "", email: "", password: "" });
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);
  // The server sends email: the account exists once the link mailed to this address is opened.
  const [pendingEmail, setPendingEmail] = useState<string | null>(null);

  if (status === "authenticated" && !submitting) return <Navigate to="/" replace />;
  if (pendingEmail !== null) {
    return (
      <section className="page page--auth" aria-labelledby="register-title">
        <div className="auth-card card" role="status" data-testid="register-check-email">
          <h1 id="register-title">Check your email</h1>
          <p className="notice">
            We have sent a link to <strong>{pendingEmail}</strong>. Open it within 24 hours to confirm your address and
            finish creating your account.
          </p>
          <p className="muted">
            Nothing arrived? Check your spam folder. If the address already has an account, its owner gets a note
            instead: <Link to="/login">log in</Link> or <Link to="/forgot-password">reset the password</Link>.
          </p>
        </div>
      </section>
    );
  }

  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    const body = { username: form.username.trim(), email: form.email.trim(), password: form.password };
    const errors = compact({
      username: checkUsername(body.username),
      email: checkEmail(body.email),
      password: checkNewPassword(body.password),
    });
    setFieldErrors(errors);
    setFormError(null);
    if (Object.keys(errors).length) return;
    setSubmitting(true);
    try {
      const user = await register(body);
      if (user === "check_email") {
        setPendingEmail(body.email);
        setSubmitting(false);
        return;
      }
      navigate(`/u/${encodeURIComponent(user.username)}`, { replace: true, state: { welcome: true } });
    } catch (err) {
      const { fields, form: message } = formErrors(err, ["username", "email", "password"]);
      setFieldErrors(fields);
      setFormError(message);
      setSubmitting(false);
    }
  };

  return (
    <section className="page page--auth" aria-labelledby="register-title">
      <div className="auth-card card">
        <h1 id="register-title">Create your account</h1>
        <p className="muted">Your channel is ready the moment you sign up. Free, no credit card.</p>
        <form onSubmit={onSubmit} noValidate className="form" data-testid="register-form">
          <FormError message={formError} />
          <TextField
            label="Username"
            name="username"
            autoComplete="username"
            hint="3–50 letters, digits or underscores. Your channel lives at /u/username."
            value={form.username}
            error={fieldErrors.username}
            onChange={set("username")}
          />
          <TextField
            label="Email"
            name="email"
            type="email"
            autoComplete="email"
            value={form.email}
            error={fieldErrors.email}
            onChange={set("email")}
          />
          <TextField
            label="Password"
            name="password"
            type="password"
            autoComplete="new-password"
            hint="At least 8 characters. Common passwords are refused."
            value={form.password}
            error={fieldErrors.password}
            onChange={set("password")}
          />
          <button type="submit" className="btn btn--primary btn--block" disabled={submitting}>
            {submitting ? "Creating account…" : "Create account"}
          </button>
        </form>
        <p className="auth-switch muted">
          Already have an account? <Link to="/login">Log in</Link>
        </p>
      </div>
    </section>
  );
}
