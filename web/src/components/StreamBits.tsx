// Small pieces shared by the watch page, the dashboard, the home page and channel pages.
import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import type { MediaState, Stream } from "../api/types";
import { formatAgo, formatCount, formatDuration, plural } from "../lib/format";
import { Avatar } from "./Avatar";
import { LogoMark } from "./Logo";

export function LiveBadge({ testId }: { testId?: string }) {
  return (
    <span className="live-badge" data-testid={testId}>
      Live
    </span>
  );
}

const STATE_LABELS: Record<MediaState, string> = {
  waiting: "Waiting for encoder",
  live: "Live",
  reconnecting: "Reconnecting",
  ended: "Ended",
};

/** The creator's view of the media pipeline: waiting for OBS, live, or the encoder dropped. */
export function MediaStateBadge({ state }: { state: MediaState }) {
  return (
    <span className={`state-badge state-badge--${state}`} data-testid="media-state" data-state={state}>
      <span className="state-dot" aria-hidden="true" />
      {STATE_LABELS[state]}
    </span>
  );
}

export function ViewerCount({ count, testId }: { count: number; testId?: string }) {
  return (
    <span className="viewer-count" data-testid={testId}>
      <svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true">
        <path
          d="M8 3C4.5 3 2 6 1 8c1 2 3.5 5 7 5s6-3 7-5c-1-2-3.5-5-7-5Zm0 8a3 3 0 1 1 0-6 3 3 0 0 1 0 6Z"
          fill="currentColor"
        />
      </svg>
      {formatCount(count)} {plural(count, "viewer", "viewers")}
    </span>
  );
}

/** Every this many ms a live thumbnail is asked for again (the server writes a new one every few seconds). */
const THUMB_REFRESH_MS = 30_000;

/**
 * A stream's thumbnail, or a placeholder while there is none (the server answers 404 until the first
 * one is written). Live thumbnails are refreshed now and then, which also retries a missing one.
 */
export function StreamThumbnail({ url, live }: { url: string | null; live: boolean }) {
  const [bucket, setBucket] = useState(() => Math.floor(Date.now() / THUMB_REFRESH_MS));
  const [failed, setFailed] = useState<string | null>(null);

  useEffect(() => {
    if (!live || !url) return;
    const timer = setInterval(() => setBucket(Math.floor(Date.now() / THUMB_REFRESH_MS)), THUMB_REFRESH_MS);
    return () => clearInterval(timer);
  }, [live, url]);

  const src = url ? (live ? `${url}${url.includes("?") ? "&" : "?"}t=${bucket}` : url) : null;
  return (
    <span className="thumb">
      {src && failed !== src ? (
        <img className="thumb-img" src={src} alt="" loading="lazy" decoding="async" onError={() => setFailed(src)} />
      ) : (
        <span className="thumb-placeholder" data-testid="thumbnail-placeholder">
          <LogoMark size={36} />
        </span>
      )}
    </span>
  );
}

/** A stream as a card: thumbnail, LIVE badge and viewers, title, creator. */
export function StreamCard({ stream, showCreator = true }: { stream: Stream; showCreator?: boolean }) {
  const live = stream.status === "live";
  const watch = `/watch/${stream.stream_id}`;
  const name = stream.user.display_name || stream.user.username;
  return (
    <li className="stream-card" data-testid="stream-card">
      <Link to={watch} className="stream-card-media" tabIndex={-1} aria-hidden="true">
        <StreamThumbnail url={stream.thumbnail_url} live={live} />
        {live ? (
          <span className="thumb-tags">
            <LiveBadge />
            <span className="thumb-chip">
              <ViewerCount count={stream.viewer_count} />
            </span>
          </span>
        ) : (
          <span className="thumb-tags thumb-tags--end">
            <span className="thumb-chip">{formatDuration(stream.started_at, stream.ended_at)}</span>
          </span>
        )}
      </Link>
      <div className="stream-card-body">
        {showCreator ? <Avatar username={stream.user.username} name={stream.user.display_name} size="md" /> : null}
        <div className="stream-card-text">
          <Link to={watch} className="stream-card-title" data-testid="stream-card-title">
            {stream.title}
          </Link>
          {showCreator ? (
            <Link to={`/u/${encodeURIComponent(stream.user.username)}`} className="stream-card-creator">
              {name}
            </Link>
          ) : null}
          <span className="stream-card-meta">
            {live ? `Started ${formatAgo(stream.started_at)}` : `Streamed ${formatAgo(stream.ended_at ?? stream.started_at)}`}
          </span>
        </div>
      </div>
    </li>
  );
}
