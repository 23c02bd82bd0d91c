// The creator's archives on the dashboard, every status: live processing progress (archive.status frames on
// the socket of the stream being processed, and polling while any is), the failure reason and a Retry for
// failed ones, Delete after confirmation, length and size, and the MP4 download when there is one.
import { useEffect, useId, useRef, useState } from "react";
import { Link } from "react-router-dom";
import { isCold, useArchivePages, useDeleteArchive, useRetryArchive, type Archive } from "../api/archives";
import { ApiError, errorMessage } from "../api/errors";
import { EmptyState, Spinner } from "../components/Status";
import { StreamThumbnail } from "../components/StreamBits";
import { formatBytes, formatClock, formatDate } from "../lib/format";
import { ArchiveProgress, ArchiveStatusBadge, percent, useArchiveChannel } from "./ArchiveBits";

/** After a stream ends, how long the card looks for its archive to show up. */
export const EXPECT_ARCHIVE_MS = 60_000;

function DeleteConfirm({ archive, onClose }: { archive: Archive; onClose: () => void }) {
  const remove = useDeleteArchive();
  const titleId = useId();
  const textId = useId();
  const cancel = useRef<HTMLButtonElement>(null);
  useEffect(() => cancel.current?.focus(), []);

  const confirm = () =>
    remove.mutate(archive, {
      onError: (err) => {
        // Gone already (deleted from another tab): the refreshed list drops it.
        if (err instanceof ApiError && err.code === "ARCHIVE_NOT_FOUND") onClose();
      },
    });

  return (
    <div
      className="confirm archive-confirm"
      role="alertdialog"
      aria-labelledby={titleId}
      aria-describedby={textId}
      data-testid="archive-delete-confirm"
      onKeyDown={(event) => {
        if (event.key === "Escape" && !remove.isPending) onClose();
      }}
    >
      <p id={titleId}>
        <strong>Delete the replay of “{archive.title}”?</strong>
      </p>
      <p id={textId}>Viewers can no longer watch it, and its files are removed. This cannot be undone.</p>
      {remove.isError && !(remove.error instanceof ApiError && remove.error.code === "ARCHIVE_NOT_FOUND") ? (
        <p className="field-error" role="alert" data-testid="archive-delete-error">
          {errorMessage(remove.error)}
        </p>
      ) : null}
      <div className="form-actions">
        <button type="button" className="btn btn--danger btn--sm" disabled={remove.isPending} onClick={confirm}>
          {remove.isPending ? "Deleting…" : "Yes, delete"}
        </button>
        <button type="button" className="btn btn--ghost btn--sm" ref={cancel} onClick={onClose} disabled={remove.isPending}>
          Cancel
        </button>
      </div>
    </div>
  );
}

function ArchiveRow({ archive }: { archive: Archive }) {
  const retry = useRetryArchive();
  const [confirming, setConfirming] = useState(false);
  const [retryError, setRetryError] = useState<string | null>(null);
  const watch = `/watch/${archive.stream_id}`;
  const cold = isCold(archive.storage_class);
  const progress = percent(archive.progress);

  const onRetry = () => {
    setRetryError(null);
    retry.mutate(archive, {
      onError: (err) =>
        setRetryError(
          err instanceof ApiError && err.code === "ARCHIVE_NOT_FAILED"
            ? "This archive is not failed any more: its current state is shown."
            : errorMessage(err),
        ),
    });
  };

  return (
    <li className="archive-row" data-testid="archive-row" data-archive-id={archive.archive_id} data-status={archive.status}>
      <Link to={watch} className="archive-thumb" tabIndex={-1} aria-hidden="true">
        <StreamThumbnail url={archive.thumbnail_url} live={false} />
      </Link>
      <div className="archive-main">
        <div className="archive-head">
          <Link to={watch} className="archive-title" data-testid="archive-title">
            {archive.title}
          </Link>
          <ArchiveStatusBadge status={archive.status} />
          {cold ? (
            <span
              className="chip"
              data-testid="archive-cold"
              title={`Storage class ${archive.storage_class}: it plays only while a restore of it is under way or done`}
            >
              Cold storage
            </span>
          ) : null}
        </div>
        <p className="archive-meta muted">
          <time dateTime={archive.started_at}>{formatDate(archive.started_at)}</time>
          {archive.status === "ready" || archive.duration > 0 ? (
            <span data-testid="archive-duration"> · {formatClock(archive.duration)}</span>
          ) : null}
          {archive.file_size > 0 ? <span data-testid="archive-size"> · {formatBytes(archive.file_size)}</span> : null}
        </p>
        {archive.status === "processing" ? (
          <div className="archive-progress" role="group" aria-label="Processing">
            <ArchiveProgress progress={progress} label={`Processing “${archive.title}”`} testId="archive-progress" />
            <span className="archive-progress-text" data-testid="archive-progress-text">
              Preparing the replay… {progress} %
            </span>
          </div>
        ) : null}
        {archive.status === "failed" ? (
          <p className="archive-failure" data-testid="archive-failure">
            {archive.failure_reason || "Processing failed."}
          </p>
        ) : null}
        {retryError ? (
          <p className="field-error" role="alert" data-testid="archive-retry-error">
            {retryError}
          </p>
        ) : null}
        {confirming ? <DeleteConfirm archive={archive} onClose={() => setConfirming(false)} /> : null}
      </div>
      <div className="archive-actions">
        {archive.status === "failed" ? (
          <button
            type="button"
            className="btn btn--secondary btn--sm"
            onClick={onRetry}
            disabled={retry.isPending}
            data-testid="archive-retry"
          >
            {retry.isPending ? "Retrying…" : "Retry"}
          </button>
        ) : null}
        {archive.mp4_url ? (
          <a className="btn btn--ghost btn--sm" href={archive.mp4_url} download data-testid="archive-download">
            Download MP4
          </a>
        ) : null}
        <button
          type="button"
          className="btn btn--ghost btn--sm archive-delete"
          onClick={() => setConfirming(true)}
          disabled={confirming}
          aria-label={`Delete the replay of ${archive.title}`}
          data-testid="archive-delete"
        >
          Delete
        </button>
      </div>
    </li>
  );
}

/**
 * `endedStreamId`: a stream this page saw end; its archive is looked for (polling, and its socket's frames)
 * until it shows up, for a minute at most.
 */
export function ArchivesCard({ userId, endedStreamId = null }: { userId: string; endedStreamId?: string | null }) {
  const [expected, setExpected] = useState<string | null>(null);
  useEffect(() => {
    if (!endedStreamId) return;
    setExpected(endedStreamId);
    const timer = setTimeout(() => setExpected(null), EXPECT_ARCHIVE_MS);
    return () => clearTimeout(timer);
  }, [endedStreamId]);

  const archives = useArchivePages(userId, { poll: true, expectStreamId: expected });
  const list = archives.data?.pages.flatMap((page) => page.items);
  const waitingFor = expected && list && !list.some((a) => a.stream_id === expected) ? expected : null;

  // Frames come on the channel of the stream being processed (the newest such), or of the one that just ended.
  const feed = (list ?? []).find((a) => a.status === "processing")?.stream_id ?? waitingFor ?? "";
  useArchiveChannel(feed);

  return (
    <section className="card dash-card" aria-labelledby="archives-title" data-testid="archives">
      <div className="dash-card-head">
        <h2 id="archives-title">Archives</h2>
        <p className="muted">Replays of your streams. Viewers find the ready ones on your channel.</p>
      </div>
      {archives.isPending ? (
        <Spinner label="Loading your archives…" />
      ) : archives.isError && !list ? (
        <p className="form-error" role="alert">
          {errorMessage(archives.error)}
        </p>
      ) : !list || list.length === 0 ? (
        <EmptyState title="No archives yet.">When a stream ends, its recording is turned into a replay here.</EmptyState>
      ) : (
        <ul className="archive-list" aria-label="Your archives">
          {list.map((archive) => (
            <ArchiveRow key={archive.archive_id} archive={archive} />
          ))}
        </ul>
      )}
      {archives.hasNextPage ? (
        <div className="load-more">
          <button
            type="button"
            className="btn btn--secondary"
            onClick={() => void archives.fetchNextPage()}
            disabled={archives.isFetchingNextPage}
          >
            {archives.isFetchingNextPage ? "Loading…" : "Load more"}
          </button>
        </div>
      ) : null}
    </section>
  );
}
