import { Link, useLocation } from "react-router-dom";
import { errorMessage } from "../api/errors";
import { useToggleFollow } from "../api/queries";
import type { UserPublic } from "../api/types";
import { useSession } from "../auth/auth";

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
  const following = user.viewer_follow_id !== null && user.viewer_follow_id !== undefined;
  return (
    <div className="follow-control">
      <button
        type="button"
        className={following ? "btn btn--secondary" : "btn btn--primary"}
        data-testid="follow-button"
        disabled={toggle.isPending}
        onClick={() => toggle.mutate()}
      >
        {following ? "Unfollow" : "Follow"}
      </button>
      {toggle.isError ? (
        <p className="field-error" role="alert">
          {errorMessage(toggle.error)}
        </p>
      ) : null}
    </div>
  );
}
