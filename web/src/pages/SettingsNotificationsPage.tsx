import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { errorMessage } from "../api/errors";
import { useNotificationSettings, useUpdateNotificationSettings } from "../api/notifications";
import type { NotificationKindSwitches, NotificationSettings } from "../api/types";
import { Spinner } from "../components/Status";
import { VerifyEmailHint } from "../components/VerifyEmailHint";
import { disablePush, enablePush, type EnableResult, pushSupport, type PushSupport, syncPush } from "../notifications/push";
import { usePageTitle } from "../lib/usePageTitle";

type Kind = keyof NotificationKindSwitches & keyof NotificationSettings["kinds"];

const KINDS: Array<{ kind: Kind; label: string; hint: string }> = [
  { kind: "stream_started", label: "Someone you follow goes live", hint: "Mute a single creator with the bell next to Unfollow." },
  { kind: "schedule_reminder", label: "A scheduled stream is about to start", hint: "For creators you follow." },
  { kind: "archive_ready", label: "Your replay is ready", hint: "When a stream of yours has been archived." },
  { kind: "new_follower", label: "New followers", hint: "Several in a row are grouped into one." },
  { kind: "tip_received", label: "Tips you receive", hint: "Each tip a viewer sends you, with its message." },
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

const PUSH_REFUSED: Record<Exclude<EnableResult, "subscribed">, string> = {
  blocked:
    "Notifications are blocked for this site. Allow them in your browser's site settings (the icon left of the address), then switch this on again.",
  dismissed: "Push stays off: the browser's prompt was closed without allowing notifications.",
  unsupported: "This browser cannot receive push notifications.",
};

function emailHint(settings: NotificationSettings): string | undefined {
  if (!settings.email_available) return "Email delivery is not set up on this server";
  // An unconfirmed address may be someone else's: nothing is mailed to it until its link comes back.
  if (!settings.email_verified) return "Confirm your email address first: emails start once it is confirmed";
  return undefined;
}

function pushHint(available: boolean, support: PushSupport): string | undefined {
  if (!available) return "Browser push is not available on this server";
  if (support === "unsupported") return "This browser cannot receive push notifications";
  if (support === "blocked") return "Blocked in this browser: allow notifications for this site in your browser's settings";
  return "Asks your browser for permission; applies to this browser";
}

function usePushSwitch(on: boolean, available: boolean, save: (on: boolean) => void) {
  const [support, setSupport] = useState<PushSupport>(() => pushSupport());
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  // Push on: keep the server's copy of this browser's subscription current (never prompts).
  useEffect(() => {
    if (on && available) void syncPush().catch(() => undefined);
  }, [on, available]);

  async function change(next: boolean) {
    setBusy(true);
    setProblem(null);
    try {
      if (next) {
        const result = await enablePush();
        setSupport(pushSupport());
        if (result === "subscribed") save(true);
        else setProblem(PUSH_REFUSED[result]);
      } else {
        save(false);
        await disablePush();
      }
    } catch (error) {
      setProblem(`Could not ${next ? "turn on" : "turn off"} push in this browser: ${errorMessage(error)}`);
    } finally {
      setBusy(false);
    }
  }

  return { support, busy, problem, change };
}

export function SettingsNotificationsPage() {
  const settings = useNotificationSettings();
  const update = useUpdateNotificationSettings();
  usePageTitle("Notification settings");
  const push = usePushSwitch(
    settings.data?.push ?? false,
    settings.data?.push_available ?? false,
    (on) => update.mutate({ push: on }),
  );

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
              hint={emailHint(settings.data)}
              testId="delivery-email"
              checked={settings.data.email}
              disabled={!settings.data.email_available}
              onChange={(on) => update.mutate({ email: on })}
            />
            {settings.data.email_available && !settings.data.email_verified ? <VerifyEmailHint /> : null}
            <Switch
              label="As browser push notifications"
              hint={pushHint(settings.data.push_available, push.support)}
              testId="delivery-push"
              checked={settings.data.push}
              disabled={
                !settings.data.push_available || push.busy || (push.support !== "available" && !settings.data.push)
              }
              onChange={(on) => void push.change(on)}
            />
            {push.problem ? (
              <p className="form-error" role="alert" data-testid="push-problem">
                {push.problem}
              </p>
            ) : null}
          </section>
        </>
      )}
    </div>
  );
}
