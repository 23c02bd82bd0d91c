// Archives (a finished stream's recording, replayable as VOD): TanStack Query hooks, and the cache updates
// that archive.status frames drive.
import { type InfiniteData, type QueryClient, useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import { useSession } from "../auth/auth";
import type { ArchiveStatusFrame } from "../realtime/protocol";
import { api, unwrap } from "./client";
import { streamKeys } from "./streams";
import type { Archive, ArchivePage, Stream, StreamArchive } from "./types";

export type { Archive, ArchivePage, ArchiveStatus, StreamArchive } from "./types";

// ---------- helpers ----------

export const ARCHIVE_PAGE_SIZE = 12;
/** The dashboard asks for its archives this often while one is being processed. */
export const ARCHIVE_POLL_MS = 3_000;
/** A watch page waiting for its replay asks for the stream this often, besides the socket's frames. */
export const REPLAY_POLL_MS = 15_000;

/**
 * Storage classes whose objects need a restore before they can be read (S3 Glacier Instant Retrieval does not).
 * Information only: a restored archive keeps its class and plays; the server's 409 ARCHIVE_COLD is what tells.
 */
const COLD_CLASSES = new Set(["GLACIER", "DEEP_ARCHIVE"]);

export function isCold(storageClass: string | null | undefined): boolean {
  return storageClass !== null && storageClass !== undefined && COLD_CLASSES.has(storageClass.toUpperCase());
}

/** The stream's archive, if it has one. */
export function streamArchive(stream: Stream): StreamArchive | null {
  return stream.archive ?? null;
}

export const archiveKeys = {
  all: ["archives"] as const,
  // Who asks matters: the creator also sees their processing and failed archives.
  pages: (userId: string, viewerId: string | null) => ["archives", "pages", userId, viewerId] as const,
};

/** Whether the archive of `streamId` is listed (trivially, with no stream id). */
function lists(data: InfiniteData<ArchivePage> | undefined, streamId: string | null): boolean {
  if (streamId === null) return true;
  return data?.pages.some((page) => page.items.some((a) => a.stream_id === streamId)) ?? false;
}

function anyProcessing(data: InfiniteData<ArchivePage> | undefined): boolean {
  return data?.pages.some((page) => page.items.some((a) => a.status === "processing")) ?? false;
}

/** Change (or with null, drop) an archive wherever it is cached; whether any list held it. */
function mapArchives(client: QueryClient, archiveId: string, change: (archive: Archive) => Archive | null): boolean {
  const listed = client
    .getQueriesData<InfiniteData<ArchivePage>>({ queryKey: ["archives", "pages"] })
    .some(([, data]) => data?.pages.some((page) => page.items.some((a) => a.archive_id === archiveId)));
  client.setQueriesData<InfiniteData<ArchivePage>>({ queryKey: ["archives", "pages"] }, (old) =>
    old
      ? {
          ...old,
          pages: old.pages.map((page) => ({
            ...page,
            items: page.items.flatMap((a) => {
              if (a.archive_id !== archiveId) return [a];
              const next = change(a);
              return next ? [next] : [];
            }),
          })),
        }
      : old,
  );
  return listed;
}

/**
 * An archive.status frame: the progress goes straight into every cached copy of the archive (the lists, its
 * stream); once it is ready or failed, they are fetched again for what only the API has (URLs,
 * duration, size).
 */
export function applyArchiveFrame(client: QueryClient, frame: ArchiveStatusFrame): void {
  const { archive_id, status, progress, failure_reason } = frame;
  const listed = mapArchives(client, archive_id, (a) => ({ ...a, status, progress, failure_reason }));
  const streamKey = streamKeys.one(frame.stream_id);
  const stream = client.getQueryData<Stream>(streamKey);
  if (stream) {
    const before = stream.archive;
    const archive: StreamArchive =
      before && before.archive_id === archive_id
        ? { ...before, status, progress }
        : { archive_id, status, progress, hls_url: null, thumbnail_url: null, duration: 0 };
    client.setQueryData<Stream>(streamKey, { ...stream, archive });
  }
  if (status !== "processing") {
    void client.invalidateQueries({ queryKey: archiveKeys.all });
    void client.invalidateQueries({ queryKey: streamKey });
  } else if (!listed) {
    // A new archive (the stream has just ended): the lists shown fetch it.
    void client.invalidateQueries({ queryKey: ["archives", "pages"] });
  }
}

// ---------- queries ----------

/**
 * A creator's archives, newest first, page by page. Anyone sees the ready ones; the creator also sees the
 * processing and failed ones. With `poll`, asks again every few seconds while any is being processed, and
 * until the archive of `expectStreamId` (a stream that has just ended) is listed.
 */
export function useArchivePages(
  userId: string | undefined,
  { poll = false, expectStreamId = null }: { poll?: boolean; expectStreamId?: string | null } = {},
) {
  const { status, user } = useSession();
  return useInfiniteQuery({
    queryKey: archiveKeys.pages(userId ?? "", user?.user_id ?? null),
    enabled: userId !== undefined && status !== "loading",
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET("/api/archives", {
          params: { query: { user_id: userId ?? "", limit: ARCHIVE_PAGE_SIZE, ...(pageParam ? { cursor: pageParam } : {}) } },
        }),
      ),
    getNextPageParam: (last) => last.next_cursor ?? null,
    refetchInterval: (query) =>
      poll && (anyProcessing(query.state.data) || !lists(query.state.data, expectStreamId)) ? ARCHIVE_POLL_MS : false,
    staleTime: poll ? 0 : undefined,
  });
}

// ---------- changes (the owner's) ----------

export function useDeleteArchive() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (archive: Archive) => {
      await unwrap(api.DELETE("/api/archives/{archive_id}", { params: { path: { archive_id: archive.archive_id } } }));
      return archive;
    },
    onSuccess: (archive) => {
      mapArchives(client, archive.archive_id, () => null);
      void client.invalidateQueries({ queryKey: archiveKeys.all });
      void client.invalidateQueries({ queryKey: streamKeys.one(archive.stream_id) });
    },
  });
}

export function useRetryArchive() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (archive: Archive) =>
      unwrap(api.POST("/api/archives/{archive_id}/retry", { params: { path: { archive_id: archive.archive_id } } })),
    onSuccess: (next) => {
      mapArchives(client, next.archive_id, () => next);
      void client.invalidateQueries({ queryKey: streamKeys.one(next.stream_id) });
    },
    // Not failed any more (a worker picked it up meanwhile): the list shows what it is now.
    onError: () => void client.invalidateQueries({ queryKey: archiveKeys.all }),
  });
}
