import { Link, useLocation, useParams } from "react-router-dom";
import { ApiError, errorMessage } from "../api/errors";
import { ChannelArchives } from "../archives/ChannelArchives";
import { useUserByUsername } from "../api/queries";
import { useStreamList, useStreamPages } from "../api/streams";
import type { UserPublic } from "../api/types";
import { useSession } from "../auth/auth";
import { Avatar } from "../components/Avatar";
import { FollowButton } from "../components/FollowButton";
import { ChannelSchedule } from "../schedules/ChannelSchedule";
import { EmptyState, NotFound, Spinner } from "../components/Status";
import { StreamCard } from "../components/StreamBits";
import { formatCount, formatJoined, plural } from "../lib/format";
import { usePageTitle } from "../lib/usePageTitle";
import { TipButton } from "../tips/TipButton";

export function ProfilePage() {
  const { username = "" } = useParams();
  const location = useLocation();
  const { user: viewer } = useSession();
  const profile = useUserByUsername(username);
  usePageTitle(profile.data ? `${profile.data.display_name || profile.data.username} (@${profile.data.username})` : `@${username}`);

  if (profile.isPending) return <Spinner label="Loading profile…" />;
  if (profile.isError) {
    if (profile.error instanceof ApiError && profile.error.status === 404) {
      return <NotFound title="User not found" message={`There is no one called @${username} here.`} />;
    }
    return (
      <section className="page page--narrow">
        <p className="form-error" role="alert">
          {errorMessage(profile.error)}
        </p>
        <button type="button" className="btn btn--secondary" onClick={() => void profile.refetch()}>
          Try again
        </button>
      </section>
    );
  }

  const user = profile.data;
  const isOwner = viewer?.user_id === user.user_id;
  const name = user.display_name || user.username;
  const followers = user.follower_count ?? 0;
  const following = user.following_count ?? 0;
  const base = `/u/${encodeURIComponent(user.username)}`;
  const welcome = isOwner && (location.state as { welcome?: boolean } | null)?.welcome;

  return (
    <div className="page profile" data-testid="profile">
      {welcome ? (
        <div className="notice" role="status">
          <strong>Your channel is ready.</strong> Add a display name and a short bio so viewers know who you are.{" "}
          <Link to="/settings/profile">Edit profile</Link>
        </div>
      ) : null}
      <section className="profile-card card" aria-labelledby="profile-name">
        <div className="profile-banner" aria-hidden="true" />
        <div className="profile-head">
          <Avatar username={user.username} name={user.display_name} size="xl" />
          <div className="profile-ident">
            <h1 id="profile-name" data-testid="profile-display-name">
              {name}
            </h1>
            <p className="profile-handle" data-testid="profile-username">
              @{user.username}
            </p>
          </div>
          <div className="profile-actions">
            {isOwner ? (
              <Link to="/settings/profile" className="btn btn--secondary">
                Edit profile
              </Link>
            ) : (
              <>
                <FollowButton user={user} />
                <TipButton recipient={user} />
              </>
            )}
          </div>
        </div>
        {user.bio ? (
          <p className="profile-bio" data-testid="profile-bio">
            {user.bio}
          </p>
        ) : isOwner ? (
          <p className="profile-bio muted">You have not written a bio yet.</p>
        ) : null}
        <ul className="profile-stats">
          <li>
            <Link to={`${base}/followers`} data-testid="followers-link">
              <strong data-testid="follower-count">{formatCount(followers)}</strong>{" "}
              {plural(followers, "follower", "followers")}
            </Link>
          </li>
          <li>
            <Link to={`${base}/following`} data-testid="following-link">
              <strong data-testid="following-count">{formatCount(following)}</strong> following
            </Link>
          </li>
          <li className="muted">Joined {formatJoined(user.created_at)}</li>
        </ul>
      </section>

      <ChannelStreams user={user} isOwner={isOwner} />
    </div>
  );
}

/** The creator's live stream (if any) on top, then their replays, then past broadcasts page by page. */
function ChannelStreams({ user, isOwner }: { user: UserPublic; isOwner: boolean }) {
  const live = useStreamList({ status: "live", userId: user.user_id, limit: 1 });
  const past = useStreamPages("ended", user.user_id);
  const name = user.display_name || user.username;
  const current = live.data?.items[0] ?? null;
  const items = past.data?.pages.flatMap((page) => page.items) ?? [];

  return (
    <>
      {current ? (
        <section className="profile-section" aria-labelledby="live-title" data-testid="channel-live">
          <h2 id="live-title" className="section-title">
            <span className="live-dot" aria-hidden="true" /> Live now
          </h2>
          <ul className="stream-grid stream-grid--feature">
            <StreamCard stream={current} showCreator={false} />
          </ul>
        </section>
      ) : null}

      <ChannelSchedule user={user} />

      <ChannelArchives user={user} isOwner={isOwner} />

      <section className="profile-section" aria-labelledby="broadcasts-title" data-testid="past-streams">
        <h2 id="broadcasts-title">Past streams</h2>
        {past.isPending ? (
          <Spinner label="Loading past streams…" />
        ) : past.isError && items.length === 0 ? (
          <p className="form-error" role="alert">
            {errorMessage(past.error)}
          </p>
        ) : items.length === 0 ? (
          current ? (
            <EmptyState title="No past streams yet.">Finished broadcasts are listed here.</EmptyState>
          ) : (
            <EmptyState title={isOwner ? "You have not gone live yet." : `${name} has not gone live yet.`}>
              {isOwner ? (
                <>
                  Point OBS at your stream key and your first broadcast shows up here.{" "}
                  <Link to="/dashboard">Open the creator dashboard</Link>
                </>
              ) : user.viewer_follow_id ? (
                "You follow this channel: its first broadcast shows up here, and on the home page while it is live."
              ) : (
                "Its first broadcast shows up here, and on the home page while it is live."
              )}
            </EmptyState>
          )
        ) : (
          <ul className="stream-grid" data-testid="past-stream-list">
            {items.map((stream) => (
              <StreamCard key={stream.stream_id} stream={stream} showCreator={false} />
            ))}
          </ul>
        )}
        {past.hasNextPage ? (
          <div className="load-more">
            <button
              type="button"
              className="btn btn--secondary"
              onClick={() => void past.fetchNextPage()}
              disabled={past.isFetchingNextPage}
            >
              {past.isFetchingNextPage ? "Loading…" : "Load more"}
            </button>
          </div>
        ) : null}
      </section>
    </>
  );
}
