// Notification payloads as the API sends them, for tests.
import type { Notification, NotificationSettings } from "../api/types";
import { STREAM_ID } from "./streams";

export const bob = { user_id: "9a0b1c2d-0000-4000-8000-0000000b0b01", username: "bob", display_name: "Bob the Streamer" };

/** n minutes ago, as the API writes instants. */
export const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000).toISOString();

export const notifId = (n: number) => `0c0c0c0c-0000-4000-8000-${String(n).padStart(12, "0")}`;

export function streamStarted(n: number, overrides: Partial<Notification> = {}): Notification {
  return {
    notification_id: notifId(n),
    kind: "stream_started",
    payload: { stream_id: STREAM_ID, title: `Stream ${n}`, creator: bob },
    created_at: minutesAgo(n),
    read_at: null,
    ...overrides,
  };
}

export function archiveReady(n: number, overrides: Partial<Notification> = {}): Notification {
  return {
    notification_id: notifId(n),
    kind: "archive_ready",
    payload: { archive_id: "a-1", stream_id: "5e1f0c2a-0000-4000-8000-00000000a0ff", title: "Synth build" },
    created_at: minutesAgo(n),
    read_at: null,
    ...overrides,
  };
}

export function newFollowers(n: number, names: string[], count: number, overrides: Partial<Notification> = {}): Notification {
  return {
    notification_id: notifId(n),
    kind: "new_follower",
    payload: { count, names, follower_ids: names.map((_, i) => `f-${i}`) },
    created_at: minutesAgo(n),
    read_at: null,
    ...overrides,
  };
}

export const notifPage = (items: Notification[], next_cursor: string | null = null) => ({ items, next_cursor });

export function makeSettings(overrides: Partial<NotificationSettings> = {}): NotificationSettings {
  return {
    email: false,
    push: false,
    kinds: { stream_started: true, schedule_reminder: true, archive_ready: true, new_follower: true },
    email_available: false,
    email_verified: true,
    push_available: false,
    ...overrides,
  };
}
