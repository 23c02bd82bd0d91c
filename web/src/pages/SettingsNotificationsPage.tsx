import { Link } from "react-router-dom";
import { errorMessage } from "../api/errors";
import { useNotificationSettings, useUpdateNotificationSettings } from "../api/notifications";
import type { NotificationKindSwitches, NotificationSettings } from "../api/types";
import { Spinner } from "../components/Status";
import { usePageTitle } from "../lib/usePageTitle";

type Kind = keyof NotificationKindSwitches & keyof NotificationSettings["kinds"];

const KINDS: Array<{ kind: Kind; label: string; hint: string }> = [
  { kind: "stream_started", label: "Someone you follow goes live", hint: "Mute a single creator with the bell next to Unfollow." },
  { kind: "schedule_reminder", label: "A scheduled stream is about to start", hint: "For creators you follow." },
  { kind: "archive_ready", label: "Your replay is ready", hint: "When a stream of yours has been archived." },
  { kind: "new_follower", label: "New followers", hint: "Several in a row are grouped into one." },
];

function Switch({
  label,
  hint,
  checked,
  disabled,
  onChange,
  testId,
}: {
  label: string;
  hint?: string;
  checked: boolean;
  disabled?: boolean;
  onChange: (on: boolean) => void;
  testId: string;
}) {
  return (
    <label className={`switch-row switch-row--setting${disabled ? " switch-row--disabled" : ""}`}>
      <span className="switch-text">
        <span className="switch-label">{label}</span>
        {hint ? <span className="muted switch-hint">{hint}</span> : null}
      </span>
      <input
        type="checkbox"
        role="switch"
        className="switch"
        data-testid={testId}
        checked={checked}
        disabled={disabled}
        onChange={(e) => onChange(e.target.checked)}
      />
    </label>
  );
}

export function SettingsNotificationsPage() {
  const settings = useNotificationSettings();
  const update = useUpdateNotificationSettings();
  usePageTitle("Notification settings");

  return (
    <div className="page page--narrow settings">
      <Link to="/settings/profile" className="back-link">
        ← Back to settings
      </Link>
      <h1>Notification settings</h1>
      {settings.isPending ? (
        <Spinner label="Loading your settings…" />
      ) : settings.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(settings.error)}
        </p>
      ) : (
        <>
          {update.isError ? (
            <p className="form-error" role="alert">
              Could not save: {errorMessage(update.error)}
            </p>
          ) : null}
          <section className="card settings-card" aria-labelledby="notif-kinds-title" data-testid="notification-kinds">
            <h2 id="notif-kinds-title">What to tell you about</h2>
            <p className="muted">These show under the bell in the header.</p>
            {KINDS.map(({ kind, label, hint }) => (
              <Switch
                key={kind}
                label={label}
                hint={hint}
                testId={`kind-${kind}`}
                checked={settings.data.kinds[kind] ?? true}
                onChange={(on) => update.mutate({ kinds: { [kind]: on } })}
              />
            ))}
          </section>
          <section className="card settings-card" aria-labelledby="notif-delivery-title" data-testid="notification-delivery">
            <h2 id="notif-delivery-title">Also send them</h2>
            <p className="muted">The same notifications, outside the app.</p>
            <Switch
              label="By email"
              hint={settings.data.email_available ? undefined : "Email delivery is not set up on this server"}
              testId="delivery-email"
              checked={settings.data.email}
              disabled={!settings.data.email_available}
              onChange={(on) => update.mutate({ email: on })}
            />
            <Switch
              label="As browser push notifications"
              hint={settings.data.push_available ? undefined : "Browser push is not available yet"}
              testId="delivery-push"
              checked={settings.data.push}
              disabled={!settings.data.push_available}
              onChange={(on) => update.mutate({ push: on })}
            />
          </section>
        </>
      )}
    </div>
  );
}
