// A channel's replays (ready archives), newest first, page by page; each plays on its stream's watch page.
import { Link } from "react-router-dom";
import { useArchivePages } from "../api/archives";
import { errorMessage } from "../api/errors";
import type { UserPublic } from "../api/types";
import { EmptyState, Spinner } from "../components/Status";
import { ArchiveCard } from "./ArchiveBits";

export function ChannelArchives({ user, isOwner }: { user: UserPublic; isOwner: boolean }) {
  const archives = useArchivePages(user.user_id);
  const name = user.display_name || user.username;
  const pages = archives.data?.pages;
  // The creator is also sent their processing and failed archives: those are the dashboard's business.
  const ready = pages?.flatMap((page) => page.items.filter((a) => a.status === "ready")) ?? [];
  const unfinished = isOwner ? (pages?.reduce((n, page) => n + page.items.filter((a) => a.status !== "ready").length, 0) ?? 0) : 0;

  return (
    <section className="profile-section" aria-labelledby="archives-title" data-testid="channel-archives">
      <h2 id="archives-title">Archives</h2>
      {archives.isPending ? (
        <Spinner label="Loading archives…" />
      ) : archives.isError && !pages ? (
        <p className="form-error" role="alert">
          {errorMessage(archives.error)}
        </p>
      ) : ready.length === 0 && !archives.hasNextPage ? (
        <EmptyState title="No archives yet.">
          {isOwner ? (
            <>
              {unfinished > 0 ? "Your replays show here once they are ready. " : "Replays of your streams show here. "}
              <Link to="/dashboard">See them on the creator dashboard</Link>
            </>
          ) : (
            `Replays of ${name}’s streams show here.`
          )}
        </EmptyState>
      ) : ready.length > 0 ? (
        <ul className="stream-grid" data-testid="archive-grid">
          {ready.map((archive) => (
            <ArchiveCard key={archive.archive_id} archive={archive} />
          ))}
        </ul>
      ) : null}
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
