import { Link, useLocation } from "react-router-dom";
import { errorMessage } from "../api/errors";
import { useFollowNotify, useSetFollowNotify, useToggleFollow } from "../api/queries";
import type { UserPublic } from "../api/types";
import { useSession } from "../auth/auth";
import { BellIcon } from "../notifications/NotificationBell";

/**
 * The bell next to Unfollow: go-live notifications from this creator on or muted. What this tab last set (a
 * follow or a click) wins; before that, the profile's `viewer_follow_notify` (so a reload shows a mute), and
 * the server's default for a follow (on) if the profile has none yet.
 */
function NotifyToggle({ followId, name, saved }: { followId: string; name: string; saved: boolean | null }) {
  const known = useFollowNotify(followId);
  const set = useSetFollowNotify(followId);
  const notify = known.data ?? saved ?? true;
  const label = notify ? `Mute go-live notifications from ${name}` : `Turn on go-live notifications from ${name}`;
  return (
    <>
      <button
        type="button"
        className={`btn btn--secondary follow-bell${notify ? "" : " follow-bell--off"}`}
        data-testid="follow-notify-button"
        aria-pressed={notify}
        aria-label={label}
        title={notify ? "Notifications on (click to mute)" : "Muted (click to get notifications)"}
        disabled={set.isPending}
        onClick={() => set.mutate(!notify)}
      >
        <BellIcon off={!notify} />
      </button>
      {set.isError ? (
        <p className="field-error" role="alert">
          {errorMessage(set.error)}
        </p>
      ) : null}
    </>
  );
}

/** Follow / Unfollow for a signed-in viewer; a "log in to follow" link for anyone else. */
export function FollowButton({ user }: { user: UserPublic }) {
  const { status, user: viewer } = useSession();
  const location = useLocation();
  const toggle = useToggleFollow(user);

  if (viewer?.user_id === user.user_id) return null;
  if (status !== "authenticated") {
    return (
      <Link to={`/login?next=${encodeURIComponent(location.pathname)}`} className="btn btn--primary">
        Log in to follow
      </Link>
    );
  }
  const followId = user.viewer_follow_id ?? null;
  const following = followId !== null;
  return (
    <div className="follow-control">
      <div className="follow-buttons">
        {following ? (
          <NotifyToggle
            followId={followId}
            name={user.display_name || user.username}
            saved={user.viewer_follow_notify ?? null}
          />
        ) : null}
        <button
          type="button"
          className={following ? "btn btn--secondary" : "btn btn--primary"}
          data-testid="follow-button"
          disabled={toggle.isPending}
          onClick={() => toggle.mutate()}
        >
          {following ? "Unfollow" : "Follow"}
        </button>
      </div>
      {toggle.isError ? (
        <p className="field-error" role="alert">
          {errorMessage(toggle.error)}
        </p>
      ) : null}
    </div>
  );
}
