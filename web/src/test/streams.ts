// Stream payloads as the API sends them, for tests.
import type { Stream, StreamHealth } from "../api/types";
import { alice } from "./http";

export const STREAM_ID = "5e1f0c2a-0000-4000-8000-00000000a001";

export function makeStream(overrides: Partial<Stream> = {}): Stream {
  const id = overrides.stream_id ?? STREAM_ID;
  const live = (overrides.status ?? "live") === "live";
  return {
    stream_id: id,
    user_id: alice.user_id,
    user: { user_id: alice.user_id, username: alice.username, display_name: alice.display_name },
    title: "Building a synth from scratch",
    description: "Soldering, then sound.",
    status: "live",
    media_state: "live",
    started_at: "2026-03-04T20:00:00Z",
    ended_at: null,
    viewer_count: 12,
    hls_url: live ? `http://localhost:3000/hls/${id}/master.m3u8` : null,
    thumbnail_url: live ? `http://localhost:3000/hls/${id}/thumbnail.jpg` : null,
    ...overrides,
  };
}

export function makeHealth(overrides: Partial<StreamHealth> = {}): StreamHealth {
  return {
    stream_id: STREAM_ID,
    media_state: "live",
    ingest: {
      connected: true,
      bitrate_kbps: 4500,
      fps: 30,
      keyframe_interval_s: 2,
      video_codec: "h264",
      audio_codec: "aac",
    },
    transcoder: { fps: 30, speed: 1.01, bitrate_kbps: 5200 },
    renditions: ["720p", "480p", "360p"],
    ...overrides,
  };
}

export const page = (items: Stream[], next_cursor: string | null = null) => ({ items, next_cursor });
