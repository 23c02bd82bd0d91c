// Archive payloads as the API (and the socket) sends them, for tests.
import type { Archive, ArchivePage, StreamArchive } from "../api/archives";
import type { ArchiveStatusFrame } from "../realtime/protocol";
import { alice } from "./http";
import { STREAM_ID } from "./streams";

export const ARCHIVE_ID = "a0c4f1e2-0000-4000-8000-0000000000a1";


/** A ready archive of alice's stream (STREAM_ID unless told otherwise). */
export function makeArchive(overrides: Partial<Archive> = {}): Archive {
  const id = overrides.archive_id ?? ARCHIVE_ID;
  const ready = (overrides.status ?? "ready") === "ready";
  return {
    archive_id: id,
    stream_id: STREAM_ID,
    user_id: alice.user_id,
    user: { user_id: alice.user_id, username: alice.username, display_name: alice.display_name },
    title: "Building a synth from scratch",
    status: "ready",
    progress: ready ? 100 : 0,
    failure_reason: null,
    duration: 3723,
    file_size: 1_250_000_000,
    hls_url: ready ? `http://localhost:3000/vod/${id}/master.m3u8` : null,
    mp4_url: null,
    thumbnail_url: ready ? `http://localhost:3000/vod/${id}/poster.jpg` : null,
    storage_class: "STANDARD",
    started_at: "2026-03-04T12:00:00Z",
    ended_at: "2026-03-04T13:02:03Z",
    created_at: "2026-03-04T13:02:04Z",
    ready_at: ready ? "2026-03-04T13:05:00Z" : null,
    ...overrides,
  };
}

/** Numbered archives (their own archive and stream ids), for lists. */
export function numberedArchive(n: number, overrides: Partial<Archive> = {}): Archive {
  const pad = String(n).padStart(3, "0");
  return makeArchive({
    archive_id: `a0c4f1e2-0000-4000-8000-000000000${pad}`,
    stream_id: `5e1f0c2a-0000-4000-8000-000000000${pad}`,
    title: `Stream number ${n}`,
    ...overrides,
  });
}

export const archivePage = (items: Archive[], next_cursor: string | null = null): ArchivePage => ({ items, next_cursor });

/** What GET /api/streams/{id} says of an archive. */
export function streamArchiveOf(archive: Archive): StreamArchive {
  const { archive_id, status, progress, hls_url, thumbnail_url, duration } = archive;
  return { archive_id, status, progress, hls_url, thumbnail_url, duration };
}

export function archiveFrame(archive: Pick<Archive, "archive_id" | "stream_id">, over: Partial<ArchiveStatusFrame> = {}): ArchiveStatusFrame {
  return {
    type: "archive.status",
    archive_id: archive.archive_id,
    stream_id: archive.stream_id,
    status: "processing",
    progress: 0,
    failure_reason: null,
    ...over,
  };
}
