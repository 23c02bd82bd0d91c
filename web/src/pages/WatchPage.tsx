import { useEffect, useSyncExternalStore } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { REPLAY_POLL_MS, streamArchive } from "../api/archives";
import { ApiError, errorMessage } from "../api/errors";
import { useUserByUsername } from "../api/queries";
import { streamKeys, useStream, WATCH_FALLBACK_POLL_MS } from "../api/streams";
import type { Stream } from "../api/types";
import { useArchiveFrames } from "../archives/ArchiveBits";
import { PreparingStage, ReplayStage } from "../archives/ReplayStage";
import { ChatPanel } from "../chat/ChatPanel";
import type { ChatStore } from "../chat/chatStore";
import { useLiveChannel, useViewerCount } from "../chat/useChat";
import { Avatar } from "../components/Avatar";
import { FollowButton } from "../components/FollowButton";
import { NotFound, Spinner } from "../components/Status";
import { LiveBadge, ViewerCount } from "../components/StreamBits";
import { formatAgo, formatClock, formatCount, formatDuration, plural } from "../lib/format";
import { usePageTitle } from "../lib/usePageTitle";
import { Player } from "../player/Player";
import { TipButton } from "../tips/TipButton";

/** Tips to a stream are taken while it is live and for an hour after it ends (the server decides; this hides a button that could only fail). */
const TIP_AFTER_END_MS = 60 * 60 * 1000;

function tippable(stream: Stream, now: number = Date.now()): boolean {
  if (stream.status === "live") return true;
  const ended = stream.ended_at ? new Date(stream.ended_at).getTime() : Number.NaN;
  return Number.isFinite(ended) && now - ended < TIP_AFTER_END_MS;
}

function Stage({ stream, bench }: { stream: Stream; bench: boolean }) {
  const channel = `/u/${encodeURIComponent(stream.user.username)}`;
  if (stream.status === "ended" || stream.media_state === "ended") {
    const archive = streamArchive(stream);
    if (archive?.status === "ready" && archive.hls_url) {
      return <ReplayStage key={archive.archive_id} stream={stream} archive={{ ...archive, hls_url: archive.hls_url }} />;
    }
    if (archive?.status === "processing") return <PreparingStage archive={archive} />;
    // Failed, or no archive at all.
    return (
      <div className="stage stage--message" data-testid="stream-ended">
        <div className="stage-text">
          <p className="stage-title">This stream has ended</p>
          <p className="muted">
            {stream.ended_at ? `Ended ${formatAgo(stream.ended_at)} after ${formatDuration(stream.started_at, stream.ended_at)}.` : null}
          </p>
          <Link to={channel} className="btn btn--secondary">
            More from {stream.user.display_name || stream.user.username}
          </Link>
        </div>
      </div>
    );
  }
  if (stream.media_state === "waiting" || !stream.hls_url) {
    return (
      <div className="stage stage--message" data-testid="stream-waiting">
        <div className="stage-text">
          <span className="live-dot stage-dot" aria-hidden="true" />
          <p className="stage-title">Waiting for the broadcaster</p>
          <p className="muted">The stream starts here as soon as the video arrives. No need to reload.</p>
        </div>
      </div>
    );
  }
  return (
    <div className="stage">
      <Player src={stream.hls_url} label={`Live video: ${stream.title}`} bench={bench}>
        {stream.media_state === "reconnecting" ? (
          <div className="player-overlay" data-testid="reconnecting" role="status">
            <span className="spinner" aria-hidden="true" />
            <p className="stage-title">Reconnecting…</p>
            <p className="muted">The broadcaster’s connection dropped. The stream picks up again when it is back.</p>
          </div>
        ) : null}
      </Player>
    </div>
  );
}

function Creator({ stream }: { stream: Stream }) {
  const profile = useUserByUsername(stream.user.username);
  const name = stream.user.display_name || stream.user.username;
  const channel = `/u/${encodeURIComponent(stream.user.username)}`;
  const followers = profile.data?.follower_count ?? null;
  return (
    <div className="watch-creator">
      <Link to={channel} className="person-link" data-testid="creator-link">
        <Avatar username={stream.user.username} name={stream.user.display_name} size="lg" />
        <span className="person-names">
          <span className="person-name">{name}</span>
          <span className="person-handle">
            @{stream.user.username}
            {followers !== null ? ` · ${formatCount(followers)} ${plural(followers, "follower", "followers")}` : ""}
          </span>
        </span>
      </Link>
      <div className="watch-creator-actions">
        {profile.data ? <FollowButton user={profile.data} /> : null}
        {tippable(stream) ? <TipButton recipient={stream.user} streamId={stream.stream_id} /> : null}
      </div>
    </div>
  );
}

/** Whether the socket is connected and has said hello, and its viewer count (re-renders only when these change). */
function useLiveFacts(store: ChatStore) {
  const live = useSyncExternalStore(store.subscribe, () => store.getState().connection === "open" && store.getState().ready);
  const viewers = useViewerCount(store);
  return { live, viewers };
}

/** Stream state from the socket (hello, stream.status) goes straight into the cached stream. */
function useStreamFromSocket(store: ChatStore, streamId: string) {
  const client = useQueryClient();
  useEffect(
    () =>
      store.onStream((info) => {
        const key = streamKeys.one(streamId);
        const before = client.getQueryData<Stream>(key);
        if (!before) return;
        const ended = info.status === "ended";
        client.setQueryData<Stream>(key, {
          ...before,
          status: info.status,
          media_state: info.media_state,
          title: info.title,
          description: info.description,
          ...(ended ? { hls_url: null } : {}),
        });
        // Only the API knows when it ended (and anything else that changed with it).
        if (ended && before.status !== "ended") void client.invalidateQueries({ queryKey: key });
      }),
    [store, streamId, client],
  );
}

export function WatchPage() {
  const { streamId = "" } = useParams();
  const [params] = useSearchParams();
  const bench = params.get("bench") === "1";
  // The socket opens first, so nothing it says is missed while the stream loads.
  const channel = useLiveChannel(streamId);
  const { live: socketLive, viewers } = useLiveFacts(channel);
  useStreamFromSocket(channel, streamId);
  useArchiveFrames(channel);
  const query = useStream(streamId, {
    pollMs: socketLive ? false : WATCH_FALLBACK_POLL_MS,
    // Waiting for the replay: the socket's archive.status frames bring it, and a slow poll in case one is missed.
    endedPollMs: (s) => (streamArchive(s)?.status === "processing" ? REPLAY_POLL_MS : false),
  });
  const stream = query.data;
  usePageTitle(stream ? stream.title : "Stream");

  if (query.isPending) return <Spinner label="Loading stream…" />;
  if (query.isError) {
    if (query.error instanceof ApiError && (query.error.status === 404 || query.error.status === 400)) {
      return <NotFound title="Stream not found" message="This stream does not exist, or the link is wrong." />;
    }
    return (
      <section className="page page--narrow">
        <p className="form-error" role="alert">
          {errorMessage(query.error)}
        </p>
        <button type="button" className="btn btn--secondary" onClick={() => void query.refetch()}>
          Try again
        </button>
      </section>
    );
  }
  if (!stream) return null;

  const live = stream.status === "live";
  const archive = streamArchive(stream);
  const replay = !live && archive?.status === "ready" ? archive : null;
  return (
    <div className="watch" data-testid="watch" data-media-state={stream.media_state}>
      <div className="watch-main">
        <Stage stream={stream} bench={bench} />
        <section className="watch-info" aria-labelledby="stream-title">
          <div className="watch-tags">
            {live && stream.media_state === "live" ? <LiveBadge testId="live-badge" /> : null}
            {live && stream.media_state === "reconnecting" ? <span className="state-pill">Reconnecting</span> : null}
            {live && stream.media_state === "waiting" ? <span className="state-pill">Starting soon</span> : null}
            {!live ? (
              <span className="state-pill" data-testid="ended-pill">
                {replay ? "Replay" : "Ended"}
              </span>
            ) : null}
            {replay && replay.duration > 0 ? (
              <span className="muted watch-when" data-testid="replay-duration">
                {formatClock(replay.duration)}
              </span>
            ) : null}
            {live ? <ViewerCount count={viewers ?? stream.viewer_count} testId="viewer-count" /> : null}
            <span className="muted watch-when">
              {live ? `Started ${formatAgo(stream.started_at)}` : `Streamed ${formatAgo(stream.started_at)}`}
            </span>
          </div>
          <h1 id="stream-title" className="watch-title" data-testid="stream-title">
            {stream.title}
          </h1>
          <Creator stream={stream} />
          {stream.description ? (
            <p className="watch-description" data-testid="stream-description">
              {stream.description}
            </p>
          ) : null}
        </section>
      </div>
      <div className="watch-chat">
        <ChatPanel store={channel} streamId={stream.stream_id} creatorId={stream.user_id} />
      </div>
    </div>
  );
}
