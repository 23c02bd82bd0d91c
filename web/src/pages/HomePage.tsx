import { Link } from "react-router-dom";
import { errorMessage } from "../api/errors";
import { useStreamList } from "../api/streams";
import { useSession } from "../auth/auth";
import { FollowingSchedules } from "../schedules/FollowingSchedules";
import { EmptyState, Spinner } from "../components/Status";
import { StreamCard } from "../components/StreamBits";
import { usePageTitle } from "../lib/usePageTitle";

const CREATOR_POINTS = [
  { title: "Go live from OBS", text: "Paste one stream key into OBS or any RTMP encoder. No plugins, no extra software." },
  { title: "Quality that adapts", text: "Every viewer gets the best rendition their connection can carry, from phone to TV." },
  { title: "Archives, automatically", text: "Each broadcast becomes a replay your community can catch up on." },
  { title: "Chat you can moderate", text: "Delete messages, time out or ban, slow mode, and moderators you appoint." },
];

const VIEWER_POINTS = [
  { title: "Chat in real time", text: "Talk with the creator and everyone watching, with moderation that keeps it friendly." },
  { title: "Follow your creators", text: "Their channel shows what is live now and every replay, in one place." },
  { title: "Watch anywhere", text: "Right in the browser, live with low latency or replayed later with seeking." },
  {
    title: "Tip your creators",
    text: "Send a tip from a channel or during a live stream and it shows in the chat. With Stripe, you type your card into Stripe's own form: its number never reaches us.",
  },
];

const LIVE_NOW_LIMIT = 24;

function LiveNow() {
  const live = useStreamList({ status: "live", limit: LIVE_NOW_LIMIT });
  if (live.isPending) return <Spinner label="Looking for live streams…" />;
  if (live.isError && !live.data) {
    return (
      <p className="form-error" role="alert">
        {errorMessage(live.error)}
      </p>
    );
  }
  const items = live.data.items;
  if (items.length === 0) {
    return <EmptyState title="Nobody is live right now">Channels that go live appear here first.</EmptyState>;
  }
  return (
    <ul className="stream-grid" data-testid="live-list">
      {items.map((stream) => (
        <StreamCard key={stream.stream_id} stream={stream} />
      ))}
    </ul>
  );
}

export function HomePage() {
  usePageTitle(null);
  const { user } = useSession();
  return (
    <div className="home">
      <section className="hero" aria-labelledby="hero-title">
        <div className="hero-inner">
          <p className="eyebrow">
            <span className="live-dot" aria-hidden="true" /> Live video for creators
          </p>
          <h1 id="hero-title" className="hero-title">
            Go live in minutes.
            <br />
            <span className="gradient-text">Grow a community that stays.</span>
          </h1>
          <p className="hero-lead">
            LiveStream Pro gives small and mid-size creators everything a broadcast needs: crisp adaptive video, real-time
            chat, followers, replays and tips from your viewers (paid out to you through Stripe Connect), on a channel page
            you will want to share.
          </p>
          <div className="hero-actions">
            {user ? (
              <>
                <Link to={`/u/${encodeURIComponent(user.username)}`} className="btn btn--primary btn--lg">
                  Go to your channel
                </Link>
                <Link to="/settings/profile" className="btn btn--ghost btn--lg">
                  Edit profile
                </Link>
              </>
            ) : (
              <>
                <Link to="/register" className="btn btn--primary btn--lg">
                  Start your channel
                </Link>
                <Link to="/login" className="btn btn--ghost btn--lg">
                  Log in
                </Link>
              </>
            )}
          </div>
          {user ? (
            <p className="hero-welcome" data-testid="home-welcome">
              Welcome back, <strong>{user.display_name || user.username}</strong>.
            </p>
          ) : null}
        </div>
      </section>

      <section className="home-section" aria-labelledby="live-now-title" data-testid="live-now">
        <div className="section-head">
          <h2 id="live-now-title">
            <span className="live-badge">Live</span> Live now
          </h2>
        </div>
        <LiveNow />
      </section>

      <FollowingSchedules />

      <section className="home-section" aria-labelledby="creators-title">
        <div className="section-head">
          <h2 id="creators-title">For creators</h2>
          <p className="muted">Everything between your camera and your community.</p>
        </div>
        <ul className="feature-grid">
          {CREATOR_POINTS.map((p) => (
            <li key={p.title} className="feature card">
              <h3>{p.title}</h3>
              <p className="muted">{p.text}</p>
            </li>
          ))}
        </ul>
      </section>

      <section className="home-section" aria-labelledby="viewers-title">
        <div className="section-head">
          <h2 id="viewers-title">For viewers</h2>
          <p className="muted">Find your people, and be there when it happens.</p>
        </div>
        <ul className="feature-grid">
          {VIEWER_POINTS.map((p) => (
            <li key={p.title} className="feature card">
              <h3>{p.title}</h3>
              <p className="muted">{p.text}</p>
            </li>
          ))}
        </ul>
      </section>

      <section className="home-section steps-section" aria-labelledby="steps-title">
        <h2 id="steps-title">Your first stream in three steps</h2>
        <ol className="steps">
          <li>
            <span className="step-num" aria-hidden="true">1</span>
            <div>
              <h3>Create your channel</h3>
              <p className="muted">Pick a username; your page lives at /u/username.</p>
            </div>
          </li>
          <li>
            <span className="step-num" aria-hidden="true">2</span>
            <div>
              <h3>Connect your encoder</h3>
              <p className="muted">Copy your stream key into OBS, or any RTMP software.</p>
            </div>
          </li>
          <li>
            <span className="step-num" aria-hidden="true">3</span>
            <div>
              <h3>Go live</h3>
              <p className="muted">Followers are told, viewers join, the chat lights up.</p>
            </div>
          </li>
        </ol>
        {user ? null : (
          <Link to="/register" className="btn btn--primary">
            Create a free account
          </Link>
        )}
      </section>
    </div>
  );
}
