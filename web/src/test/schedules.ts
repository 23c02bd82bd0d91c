// Schedule payloads as the API sends them, for tests.
import type { Schedule } from "../api/schedules";
import { alice } from "./http";

export const SCHEDULE_ID = "5c4ed01e-0000-4000-8000-0000000000c1";

/** A fixed "now" for tests that pin the clock: Monday 7 December 2026, 12:00 UTC. */
export const NOW = Date.parse("2026-12-07T12:00:00Z");

export const bob = {
  user_id: "0b0b0b0b-0000-4000-8000-000000000002",
  username: "bob",
  display_name: "Bob the Streamer",
  bio: "Speedruns every Friday.",
  created_at: "2026-03-01T00:00:00Z",
  follower_count: 4,
  following_count: 1,
  viewer_follow_id: null as string | null,
};

/** An instant `minutes` after NOW, as the server writes it. */
export function at(minutes: number, base: number = NOW): string {
  return new Date(base + minutes * 60_000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A planned stream of alice's, tomorrow 18:00 UTC unless told otherwise. */
export function makeSchedule(overrides: Partial<Schedule> = {}): Schedule {
  return {
    schedule_id: SCHEDULE_ID,
    user_id: alice.user_id,
    creator: { user_id: alice.user_id, username: alice.username, display_name: alice.display_name },
    title: "Synth build, part 2",
    description: "Filters and envelopes.",
    starts_at: "2026-12-08T18:00:00Z",
    expected_duration_minutes: 90,
    status: "scheduled",
    stream_id: null,
    created_at: "2026-12-01T10:00:00Z",
    updated_at: "2026-12-01T10:00:00Z",
    ...overrides,
  };
}

/** Numbered entries (their own ids), for lists. */
export function numberedSchedule(n: number, overrides: Partial<Schedule> = {}): Schedule {
  const pad = String(n).padStart(3, "0");
  return makeSchedule({ schedule_id: `5c4ed01e-0000-4000-8000-000000000${pad}`, title: `Plan number ${n}`, ...overrides });
}

/** Bob's entry, as the home page's following list shows it. */
export function bobSchedule(overrides: Partial<Schedule> = {}): Schedule {
  return makeSchedule({
    schedule_id: "5c4ed01e-0000-4000-8000-0000000000b1",
    user_id: bob.user_id,
    creator: { user_id: bob.user_id, username: bob.username, display_name: bob.display_name },
    title: "Any% attempts",
    ...overrides,
  });
}

export const schedulePage = (items: Schedule[]) => ({ items });
