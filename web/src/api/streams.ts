// TanStack Query hooks for streams and the creator's stream key.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, unwrap } from "./client";
import type { Stream, StreamCreateBody, StreamKey, StreamUpdateBody } from "./types";

/** How often a watch page asks for the stream (title and state changes) by default. */
export const WATCH_POLL_MS = 3_000;
/** The watch page's socket brings changes as they happen; while it is down, polling is a slow fallback. */
export const WATCH_FALLBACK_POLL_MS = 15_000;
/** How often the dashboard asks for health numbers and the creator's live stream. */
export const HEALTH_POLL_MS = 2_000;
export const DASHBOARD_POLL_MS = 3_000;
/** How often the home page and a channel page look for live streams. */
export const LIST_POLL_MS = 20_000;
export const STREAM_PAGE_SIZE = 12;

export type StreamStatus = "live" | "ended";

export const streamKeys = {
  all: ["streams"] as const,
  one: (streamId: string) => ["streams", "one", streamId] as const,
  list: (status: StreamStatus | null, userId: string | null, limit: number) =>
    ["streams", "list", status, userId, limit] as const,
  pages: (status: StreamStatus | null, userId: string | null) => ["streams", "pages", status, userId] as const,
  health: (streamId: string) => ["streams", "health", streamId] as const,
  key: ["stream-key"] as const,
};

function listQuery(status: StreamStatus | null, userId: string | null, limit: number, cursor: string | null = null) {
  const query = {
    limit,
    ...(status ? { status } : {}),
    ...(userId ? { user_id: userId } : {}),
    ...(cursor ? { cursor } : {}),
  };
  return unwrap(api.GET("/api/streams", { params: { query } }));
}

/**
 * One stream, polled while it is live so viewers see title and state changes within seconds;
 * `pollMs: false` stops polling (e.g. while a socket delivers the changes instead). Once it has ended,
 * `endedPollMs` says whether to go on (e.g. while its replay is being prepared); by default not.
 */
export function useStream(
  streamId: string,
  { pollMs = WATCH_POLL_MS, endedPollMs }: { pollMs?: number | false; endedPollMs?: (stream: Stream) => number | false } = {},
) {
  return useQuery({
    queryKey: streamKeys.one(streamId),
    queryFn: () => unwrap(api.GET("/api/streams/{stream_id}", { params: { path: { stream_id: streamId } } })),
    enabled: streamId !== "",
    staleTime: 0,
    refetchInterval: (query) => {
      const stream = query.state.data;
      if (stream?.status !== "ended") return pollMs;
      return endedPollMs ? endedPollMs(stream) : false;
    },
  });
}

/** The first page of streams, e.g. everyone live now or one creator's live stream. */
export function useStreamList(
  { status, userId = null, limit = STREAM_PAGE_SIZE }: { status: StreamStatus; userId?: string | null; limit?: number },
  { enabled = true, pollMs = LIST_POLL_MS }: { enabled?: boolean; pollMs?: number | false } = {},
) {
  return useQuery({
    queryKey: streamKeys.list(status, userId, limit),
    queryFn: () => listQuery(status, userId, limit),
    enabled,
    refetchInterval: pollMs,
  });
}

/** Streams page by page ("Load more"), e.g. a channel's past broadcasts. */
export function useStreamPages(status: StreamStatus, userId: string | undefined) {
  return useInfiniteQuery({
    queryKey: streamKeys.pages(status, userId ?? null),
    enabled: userId !== undefined,
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) => listQuery(status, userId ?? null, STREAM_PAGE_SIZE, pageParam),
    getNextPageParam: (last) => last.next_cursor ?? null,
  });
}

/** The signed-in creator's live stream (or null), polled: going live from OBS opens one by itself. */
export function useMyLiveStream(userId: string) {
  return useQuery({
    queryKey: streamKeys.list("live", userId, 1),
    queryFn: async (): Promise<Stream | null> => (await listQuery("live", userId, 1)).items[0] ?? null,
    refetchInterval: DASHBOARD_POLL_MS,
    staleTime: 0,
  });
}

export function useStreamHealth(streamId: string | null) {
  return useQuery({
    queryKey: streamKeys.health(streamId ?? ""),
    queryFn: () =>
      unwrap(api.GET("/api/streams/{stream_id}/health", { params: { path: { stream_id: streamId ?? "" } } })),
    enabled: streamId !== null,
    refetchInterval: HEALTH_POLL_MS,
    staleTime: 0,
  });
}

export function useStreamKey() {
  return useQuery({
    queryKey: streamKeys.key,
    queryFn: () => unwrap(api.GET("/api/users/me/stream-key")),
    staleTime: Infinity,
  });
}

export function useRotateStreamKey() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => unwrap(api.POST("/api/users/me/stream-key/rotate")),
    onSuccess: (key: StreamKey) => client.setQueryData(streamKeys.key, key),
  });
}

export function useCreateStream(userId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: StreamCreateBody) => unwrap(api.POST("/api/streams", { body })),
    onSuccess: (created) => {
      // The list holds plain streams; the ingest details belong to the stream key.
      const { ingest, playback, ...stream } = created;
      client.setQueryData<Stream | null>(streamKeys.list("live", userId, 1), stream);
      client.setQueryData<StreamKey>(streamKeys.key, (old) =>
        old ? { ...old, stream_key: ingest.stream_key, rtmp_url: ingest.rtmp_url } : old,
      );
      void client.invalidateQueries({ queryKey: streamKeys.all });
    },
  });
}

/** Put a changed stream wherever it is cached by id; list queries refetch. */
function useStoreStream(userId: string) {
  const client = useQueryClient();
  return (stream: Stream) => {
    client.setQueryData(streamKeys.one(stream.stream_id), stream);
    client.setQueryData<Stream | null>(streamKeys.list("live", userId, 1), stream.status === "live" ? stream : null);
    void client.invalidateQueries({ queryKey: streamKeys.all });
  };
}

export function useUpdateStream(streamId: string, userId: string) {
  const store = useStoreStream(userId);
  return useMutation({
    mutationFn: (body: StreamUpdateBody) =>
      unwrap(api.PATCH("/api/streams/{stream_id}", { params: { path: { stream_id: streamId } }, body })),
    onSuccess: store,
  });
}

export function useEndStream(streamId: string, userId: string) {
  const store = useStoreStream(userId);
  return useMutation({
    mutationFn: () => unwrap(api.PUT("/api/streams/{stream_id}/end", { params: { path: { stream_id: streamId } } })),
    onSuccess: store,
  });
}
