// Small pieces shared by the archive views: the progress bar, the status badge, a channel's archive card,
// and the socket that brings a stream's archive.status frames.
import { useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { Link } from "react-router-dom";
import { applyArchiveFrame, type Archive, type ArchiveStatus } from "../api/archives";
import type { ChatStore } from "../chat/chatStore";
import { useLiveChannel } from "../chat/useChat";
import { StreamThumbnail } from "../components/StreamBits";
import { formatClock, formatDate } from "../lib/format";

/** A whole percentage, 0..100. */
export function percent(progress: number): number {
  return Number.isFinite(progress) ? Math.min(100, Math.max(0, Math.round(progress))) : 0;
}

/** A native <progress> (no style attribute: the CSP allows none). */
export function ArchiveProgress({ progress, label, testId }: { progress: number; label: string; testId?: string }) {
  return <progress className="progress" max={100} value={percent(progress)} aria-label={label} data-testid={testId} />;
}

const STATUS_LABELS: Record<ArchiveStatus, string> = {
  processing: "Processing",
  ready: "Ready",
  failed: "Failed",
};

export function ArchiveStatusBadge({ status }: { status: ArchiveStatus }) {
  return (
    <span className={`state-badge archive-status archive-status--${status}`} data-testid="archive-status" data-status={status}>
      <span className="state-dot" aria-hidden="true" />
      {STATUS_LABELS[status]}
    </span>
  );
}

/** A ready archive on a channel page: poster, length, title, date; it plays on its stream's watch page. */
export function ArchiveCard({ archive }: { archive: Archive }) {
  const watch = `/watch/${archive.stream_id}`;
  return (
    <li className="stream-card" data-testid="archive-card">
      <Link to={watch} className="stream-card-media" tabIndex={-1} aria-hidden="true">
        <StreamThumbnail url={archive.thumbnail_url} live={false} />
        <span className="thumb-tags thumb-tags--end">
          <span className="thumb-chip" data-testid="archive-duration">
            {formatClock(archive.duration)}
          </span>
        </span>
      </Link>
      <div className="stream-card-body">
        <div className="stream-card-text">
          <Link to={watch} className="stream-card-title" data-testid="archive-card-title">
            {archive.title}
          </Link>
          <span className="stream-card-meta">
            <time dateTime={archive.started_at} data-testid="archive-date">
              {formatDate(archive.started_at)}
            </time>
          </span>
        </div>
      </div>
    </li>
  );
}

/** Every archive.status frame on `store`'s socket goes into the query cache. */
export function useArchiveFrames(store: ChatStore) {
  const client = useQueryClient();
  useEffect(() => store.onArchive((frame) => applyArchiveFrame(client, frame)), [store, client]);
}

/** Join a stream's channel (no socket while `streamId` is empty) just for its archive.status frames. */
export function useArchiveChannel(streamId: string) {
  const store = useLiveChannel(streamId);
  useArchiveFrames(store);
}
