// Who is banned or timed out from the creator's chat (dashboard), with a way to lift each one early.
// Bans belong to the channel; the API reaches them through the creator's live stream.
import { useState } from "react";
import { ApiError, errorMessage } from "../api/errors";
import { Avatar } from "../components/Avatar";
import { formatDateTime } from "../lib/format";
import { useBans, useUnban } from "./moderation";

export function BansCard({ streamId }: { streamId: string }) {
  const bans = useBans(streamId);
  const unban = useUnban(streamId);
  const [formError, setFormError] = useState<string | null>(null);

  const lift = (userId: string) => {
    setFormError(null);
    unban.mutate(userId, {
      onError: (err) => {
        // Already lifted or expired meanwhile: the refreshed list drops the row, nothing to report.
        if (err instanceof ApiError && err.code === "BAN_NOT_FOUND") return;
        setFormError(errorMessage(err));
      },
    });
  };

  const items = bans.data?.items ?? [];
  return (
    <section className="card dash-card" aria-labelledby="bans-title" data-testid="bans">
      <div className="dash-card-head">
        <h2 id="bans-title">Banned and timed-out viewers</h2>
        <p className="muted">They cannot chat on any of your streams until the ban ends or you lift it.</p>
      </div>
      {bans.isPending ? (
        <p className="muted">Loading bans…</p>
      ) : bans.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(bans.error)}
        </p>
      ) : items.length ? (
        <ul className="mod-list ban-list" aria-label="Banned and timed-out viewers">
          {items.map((ban) => (
            <li key={ban.user_id} className="mod-row" data-testid="ban">
              <span className="ban-who">
                <span className="mod-name">
                  <Avatar username={ban.username} name={ban.display_name} size="sm" />
                  {ban.display_name || ban.username}
                  <span className="muted">@{ban.username}</span>
                </span>
                <span className="ban-meta muted">
                  <span data-testid="ban-expiry">
                    {ban.expires_at ? (
                      <>
                        until <time dateTime={ban.expires_at}>{formatDateTime(ban.expires_at)}</time>
                      </>
                    ) : (
                      "Permanent"
                    )}
                  </span>
                  {ban.reason ? <span className="ban-reason"> · {ban.reason}</span> : null}
                </span>
              </span>
              <button
                type="button"
                className="btn btn--ghost btn--sm"
                disabled={unban.isPending && unban.variables === ban.user_id}
                onClick={() => lift(ban.user_id)}
                aria-label={`Lift ban on ${ban.username}`}
                data-testid="ban-lift"
              >
                Lift
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p className="muted">Nobody is banned.</p>
      )}
      {formError ? (
        <p className="form-error dash-notice" role="alert">
          {formError}
        </p>
      ) : null}
    </section>
  );
}
