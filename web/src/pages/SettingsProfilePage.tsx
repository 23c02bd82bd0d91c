import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { formErrors } from "../api/errors";
import { useUpdateUser } from "../api/queries";
import type { UserPrivate, UserUpdateBody } from "../api/types";
import { useSession } from "../auth/auth";
import { Avatar } from "../components/Avatar";
import { FormError, TextAreaField, TextField } from "../components/FormField";
import { checkEmail, checkNewPassword, checkUsername, compact } from "../lib/validation";
import { usePageTitle } from "../lib/usePageTitle";
import { VerifyEmailHint } from "../components/VerifyEmailHint";

const DISPLAY_NAME_MAX = 100;
const BIO_MAX = 1000;

interface FormState {
  fields: Record<string, string>;
  form: string | null;
  saved: string | null;
}
const idle: FormState = { fields: {}, form: null, saved: null };

function ProfileForm({ user }: { user: UserPrivate }) {
  const update = useUpdateUser(user.user_id);
  const [values, setValues] = useState({
    display_name: user.display_name ?? "",
    bio: user.bio ?? "",
    username: user.username,
  });
  const [state, setState] = useState<FormState>(idle);

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    const body: UserUpdateBody = {};
    const displayName = values.display_name.trim();
    const bio = values.bio.trim();
    const username = values.username.trim();
    if (displayName !== (user.display_name ?? "")) body.display_name = displayName || null;
    if (bio !== (user.bio ?? "")) body.bio = bio || null;
    if (username !== user.username) body.username = username;
    const fields = compact({ username: checkUsername(username) });
    if (Object.keys(fields).length) return setState({ ...idle, fields });
    if (Object.keys(body).length === 0) return setState({ ...idle, saved: "Nothing to save: no changes." });
    setState(idle);
    try {
      const saved = await update.mutateAsync(body);
      setValues({ display_name: saved.display_name ?? "", bio: saved.bio ?? "", username: saved.username });
      setState({ ...idle, saved: "Profile saved." });
    } catch (err) {
      setState({ ...idle, ...formErrors(err, ["display_name", "bio", "username"]) });
    }
  };

  return (
    <form onSubmit={onSubmit} noValidate className="form card settings-card" aria-labelledby="profile-form-title" data-testid="profile-form">
      <h2 id="profile-form-title">Public profile</h2>
      <p className="muted">Shown on your channel page and next to your chat messages.</p>
      <FormError message={state.form} />
      <TextField
        label="Display name"
        name="display_name"
        maxLength={DISPLAY_NAME_MAX}
        value={values.display_name}
        error={state.fields.display_name}
        hint={`${values.display_name.length}/${DISPLAY_NAME_MAX}`}
        onChange={(e) => setValues({ ...values, display_name: e.target.value })}
      />
      <TextAreaField
        label="Bio"
        name="bio"
        rows={5}
        maxLength={BIO_MAX}
        value={values.bio}
        error={state.fields.bio}
        hint={`${values.bio.length}/${BIO_MAX}`}
        onChange={(e) => setValues({ ...values, bio: e.target.value })}
      />
      <TextField
        label="Username"
        name="username"
        autoComplete="username"
        value={values.username}
        error={state.fields.username}
        hint="Changing it changes your channel address."
        onChange={(e) => setValues({ ...values, username: e.target.value })}
      />
      <div className="form-actions">
        <button type="submit" className="btn btn--primary" disabled={update.isPending}>
          {update.isPending ? "Saving…" : "Save profile"}
        </button>
        {state.saved ? (
          <span className="form-saved" role="status">
            {state.saved}
          </span>
        ) : null}
      </div>
    </form>
  );
}

function AccountForm({ user }: { user: UserPrivate }) {
  const update = useUpdateUser(user.user_id);
  const [values, setValues] = useState({ email: user.email, password: "", current_password: "" });
  const [state, setState] = useState<FormState>(idle);

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    const body: UserUpdateBody = {};
    const email = values.email.trim();
    if (email !== user.email) body.email = email;
    if (values.password) body.password = values.password;
    const fields = compact({
      email: body.email !== undefined ? checkEmail(email) : undefined,
      password: body.password !== undefined ? checkNewPassword(values.password) : undefined,
      current_password:
        Object.keys(body).length && !values.current_password
          ? "Enter your current password to change your email or password."
          : undefined,
    });
    if (Object.keys(fields).length) return setState({ ...idle, fields });
    if (Object.keys(body).length === 0) return setState({ ...idle, saved: "Nothing to save: no changes." });
    body.current_password = values.current_password;
    setState(idle);
    try {
      const saved = await update.mutateAsync(body);
      setValues({ email: saved.email, password: "", current_password: "" });
      setState({ ...idle, saved: "Account updated." });
    } catch (err) {
      setState({ ...idle, ...formErrors(err, ["email", "password", "current_password"]) });
    }
  };

  return (
    <form onSubmit={onSubmit} noValidate className="form card settings-card" aria-labelledby="account-form-title" data-testid="account-form">
      <h2 id="account-form-title">Account and security</h2>
      <p className="muted">Your email is private. Changing it or your password needs your current password.</p>
      <VerifyEmailHint />
      <FormError message={state.form} />
      <TextField
        label="Email"
        name="email"
        type="email"
        autoComplete="email"
        value={values.email}
        error={state.fields.email}
        onChange={(e) => setValues({ ...values, email: e.target.value })}
      />
      <TextField
        label="New password"
        name="password"
        type="password"
        autoComplete="new-password"
        value={values.password}
        error={state.fields.password}
        hint="Leave empty to keep your password. At least 8 characters."
        onChange={(e) => setValues({ ...values, password: e.target.value })}
      />
      <TextField
        label="Current password"
        name="current_password"
        type="password"
        autoComplete="current-password"
        value={values.current_password}
        error={state.fields.current_password}
        onChange={(e) => setValues({ ...values, current_password: e.target.value })}
      />
      <div className="form-actions">
        <button type="submit" className="btn btn--primary" disabled={update.isPending}>
          {update.isPending ? "Saving…" : "Save account"}
        </button>
        {state.saved ? (
          <span className="form-saved" role="status">
            {state.saved}
          </span>
        ) : null}
      </div>
    </form>
  );
}

export function SettingsProfilePage() {
  const { user } = useSession();
  usePageTitle("Settings");
  if (!user) return null; // RequireAuth renders this page only for a signed-in user
  return (
    <div className="page page--narrow settings">
      <header className="settings-head">
        <Avatar username={user.username} name={user.display_name} size="lg" />
        <div>
          <h1>Settings</h1>
          <p className="muted">
            Your channel: <Link to={`/u/${encodeURIComponent(user.username)}`}>/u/{user.username}</Link>
          </p>
        </div>
      </header>
      <ProfileForm user={user} />
      <AccountForm user={user} />
      <section className="card settings-card" aria-labelledby="notif-settings-link-title" data-testid="notification-settings-link">
        <h2 id="notif-settings-link-title">Notifications</h2>
        <p className="muted">Which notifications you get, and whether they also come by email or browser push.</p>
        <div>
          <Link to="/settings/notifications" className="btn btn--secondary">
            Notification settings
          </Link>
        </div>
      </section>
    </div>
  );
}
