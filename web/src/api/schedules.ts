// Stream schedules (a creator's planned streams): TanStack Query hooks, and the phase an entry is in at a
// given moment (which decides what a page may say about it).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSession } from "../auth/auth";
import { api, unwrap } from "./client";

import type { Schedule, ScheduleCreateBody, ScheduleUpdateBody } from "./types";

export type { Schedule, ScheduleCreateBody, SchedulePage, ScheduleStatus, ScheduleUpdateBody } from "./types";

// ---------- rules shared with the server ----------

export const SCHEDULE_TITLE_MAX = 140;
export const SCHEDULE_DESCRIPTION_MAX = 2000;
export const DURATION_MIN = 5;
export const DURATION_MAX = 1440;
/** How far ahead a stream can be planned (the server says 1 year). */
export const MAX_AHEAD_MS = 365 * 24 * 3600 * 1000;
/** A stream that goes live this long after (or before) a planned start is linked to it by the server. */
export const LINK_WINDOW_MS = 30 * 60 * 1000;

/** A channel's or the home page's list: this many entries. */
export const UPCOMING_LIMIT = 20;
/** The creator's own list on the dashboard: all of them (the server lets a channel plan 100 at once). */
export const OWN_LIMIT = 200;
/** How often the lists ask again: slowly, and more often while an entry is about to start or starting. */
export const SCHEDULE_POLL_MS = 60_000;
export const SCHEDULE_SOON_POLL_MS = 15_000;
const SOON_MS = 10 * 60 * 1000;

/**
 * What can truthfully be said of an entry at `now`: planned (`upcoming`), its time has come and a stream
 * that starts now is still linked to it (`starting`), `live`, or over: `done`, `cancelled`, or `missed`
 * (its time passed and no stream was linked to it).
 */
export type SchedulePhase = "upcoming" | "starting" | "live" | "missed" | "done" | "cancelled";

export function schedulePhase(schedule: Pick<Schedule, "status" | "starts_at">, now: number): SchedulePhase {
  if (schedule.status !== "scheduled") return schedule.status;
  const start = new Date(schedule.starts_at).getTime();
  if (now < start) return "upcoming";
  return now < start + LINK_WINDOW_MS ? "starting" : "missed";
}

/** Whether a viewer's list shows the entry: it is still ahead, starting or live. */
export function isUpcoming(schedule: Schedule, now: number): boolean {
  const phase = schedulePhase(schedule, now);
  return phase === "upcoming" || phase === "starting" || phase === "live";
}

function pollInterval(items: Schedule[] | undefined): number {
  const now = Date.now();
  const soon = items?.some((s) => {
    const phase = schedulePhase(s, now);
    return phase === "starting" || phase === "live" || (phase === "upcoming" && new Date(s.starts_at).getTime() - now < SOON_MS);
  });
  return soon ? SCHEDULE_SOON_POLL_MS : SCHEDULE_POLL_MS;
}

/** The iCalendar feed of a creator's schedule, and the same as a webcal:// subscription. */
export function calendarUrls(userId: string): { ics: string; webcal: string } {
  const path = `/api/users/${encodeURIComponent(userId)}/schedule.ics`;
  const { origin, host } = globalThis.location;
  return { ics: `${origin}${path}`, webcal: `webcal://${host}${path}` };
}

export const scheduleKeys = {
  all: ["schedules"] as const,
  user: (userId: string, limit: number) => ["schedules", "user", userId, limit] as const,
  // The following list depends on who asks.
  following: (viewerId: string) => ["schedules", "following", viewerId] as const,
};

// ---------- queries ----------

/** A creator's entries, soonest first, from a day ago on (the server's default), cancelled ones included. */
export function useUserSchedules(userId: string | undefined, limit: number = UPCOMING_LIMIT) {
  return useQuery({
    queryKey: scheduleKeys.user(userId ?? "", limit),
    enabled: userId !== undefined && userId !== "",
    queryFn: () => unwrap(api.GET("/api/schedules", { params: { query: { user_id: userId ?? "", limit } } })),
    refetchInterval: (query) => pollInterval(query.state.data?.items),
  });
}

/** What the creators the viewer follows have planned (signed in only). */
export function useFollowingSchedules() {
  const { status, user } = useSession();
  const viewerId = status === "authenticated" && user ? user.user_id : null;
  return useQuery({
    queryKey: scheduleKeys.following(viewerId ?? ""),
    enabled: viewerId !== null,
    queryFn: () => unwrap(api.GET("/api/schedules/following", { params: { query: { limit: UPCOMING_LIMIT } } })),
    refetchInterval: (query) => pollInterval(query.state.data?.items),
  });
}

// ---------- changes (the creator's own) ----------

export function useCreateSchedule() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: ScheduleCreateBody) => unwrap(api.POST("/api/schedules", { body })),
    onSuccess: () => void client.invalidateQueries({ queryKey: scheduleKeys.all }),
  });
}

export function useUpdateSchedule() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ scheduleId, body }: { scheduleId: string; body: ScheduleUpdateBody }) =>
      unwrap(api.PUT("/api/schedules/{schedule_id}", { params: { path: { schedule_id: scheduleId } }, body })),
    onSuccess: () => void client.invalidateQueries({ queryKey: scheduleKeys.all }),
    // 409 (it went live, or was cancelled elsewhere): the list shows what it is now.
    onError: () => void client.invalidateQueries({ queryKey: scheduleKeys.all }),
  });
}

/** Cancel an entry: it stays listed, with status "cancelled" (calendars show it cancelled). */
export function useCancelSchedule() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async (scheduleId: string) => {
      await unwrap(api.DELETE("/api/schedules/{schedule_id}", { params: { path: { schedule_id: scheduleId } } }));
    },
    onSettled: () => void client.invalidateQueries({ queryKey: scheduleKeys.all }),
  });
}
