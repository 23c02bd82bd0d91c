// In-app notifications: TanStack Query hooks, and the cache updates when some are read.
//
// The unread count comes live over the user's socket (/ws/me, notifications/useLiveNotifications.ts)
// while it is connected, and is polled as a fallback: every UNREAD_SLOW_POLL_MS while the socket is
// live, every UNREAD_POLL_MS while it is not (TanStack Query pauses interval refetches in a hidden tab),
// and again whenever the window regains focus.
import { type InfiniteData, type QueryClient, useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { useSession } from "../auth/auth";
import { api, unwrap } from "./client";
import type { Notification, NotificationPage, NotificationSettings, NotificationSettingsBody, UnreadCountBody } from "./types";

export const UNREAD_POLL_MS = 30_000;
export const UNREAD_SLOW_POLL_MS = 120_000;
/** The header's dropdown shows this many. */
export const LATEST_LIMIT = 10;
export const NOTIFICATION_PAGE_SIZE = 20;

export const notificationKeys = {
  all: ["notifications"] as const,
  // Whose notifications they are is part of every key, so another sign-in never sees them.
  unread: (userId: string) => ["notifications", userId, "unread-count"] as const,
  lists: (userId: string) => ["notifications", userId, "list"] as const,
  latest: (userId: string) => ["notifications", userId, "list", "latest"] as const,
  pages: (userId: string, unreadOnly: boolean) => ["notifications", userId, "list", "pages", unreadOnly] as const,
  settings: (userId: string) => ["notification-settings", userId] as const,
};

function useViewerId(): string | null {
  const { status, user } = useSession();
  return status === "authenticated" && user ? user.user_id : null;
}

/** How many of the viewer's notifications are unread; polled every `pollMs` (see the top of this file). */
export function useUnreadCount(pollMs: number = UNREAD_POLL_MS) {
  const viewerId = useViewerId();
  const query = useQuery({
    queryKey: notificationKeys.unread(viewerId ?? ""),
    enabled: viewerId !== null,
    queryFn: () => unwrap(api.GET("/api/notifications/unread-count")),
    refetchInterval: pollMs,
    refetchIntervalInBackground: false,
    // TanStack Query refetches when the tab becomes visible again; a window regaining focus with its
    // tab already visible (switching back from another app) is caught below.
    refetchOnWindowFocus: true,
    staleTime: 0,
  });
  const { refetch } = query;
  useEffect(() => {
    if (viewerId === null) return;
    const onFocus = () => void refetch();
    window.addEventListener("focus", onFocus);
    return () => window.removeEventListener("focus", onFocus);
  }, [viewerId, refetch]);
  return query;
}

/** The newest notifications, for the header's dropdown (fetched while it is open). */
export function useLatestNotifications(open: boolean) {
  const viewerId = useViewerId();
  return useQuery({
    queryKey: notificationKeys.latest(viewerId ?? ""),
    enabled: open && viewerId !== null,
    queryFn: () => unwrap(api.GET("/api/notifications", { params: { query: { limit: LATEST_LIMIT } } })),
    staleTime: 0,
  });
}

/** Every notification (or only the unread ones), newest first, page by page. */
export function useNotificationPages(unreadOnly: boolean) {
  const viewerId = useViewerId();
  return useInfiniteQuery({
    queryKey: notificationKeys.pages(viewerId ?? "", unreadOnly),
    enabled: viewerId !== null,
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(
        api.GET("/api/notifications", {
          params: {
            query: {
              limit: NOTIFICATION_PAGE_SIZE,
              ...(unreadOnly ? { unread: true } : {}),
              ...(pageParam ? { cursor: pageParam } : {}),
            },
          },
        }),
      ),
    getNextPageParam: (last) => last.next_cursor ?? null,
    staleTime: 0,
  });
}

type Cached = NotificationPage | InfiniteData<NotificationPage>;

function mapPage(page: NotificationPage, change: (n: Notification) => Notification): NotificationPage {
  return { ...page, items: page.items.map(change) };
}

/** Change every cached copy of the viewer's notifications (the dropdown's list and the page's). */
function mapNotifications(client: QueryClient, userId: string, change: (n: Notification) => Notification): void {
  client.setQueriesData<Cached>({ queryKey: notificationKeys.lists(userId) }, (old) => {
    if (!old) return old;
    if ("pages" in old) return { ...old, pages: old.pages.map((page) => mapPage(page, change)) };
    return mapPage(old, change);
  });
}

/** Mark one notification read; every list shows it read and the count drops at once. */
export function useMarkRead() {
  const client = useQueryClient();
  const viewerId = useViewerId() ?? "";
  return useMutation({
    mutationFn: (notification: Notification) =>
      unwrap(
        api.POST("/api/notifications/{notification_id}/read", {
          params: { path: { notification_id: notification.notification_id } },
        }),
      ),
    onSuccess: (read, before) => {
      mapNotifications(client, viewerId, (n) => (n.notification_id === read.notification_id ? read : n));
      if (before.read_at === null) {
        client.setQueryData<UnreadCountBody>(notificationKeys.unread(viewerId), (old) =>
          old ? { unread: Math.max(0, old.unread - 1) } : old,
        );
      }
    },
    onSettled: () => void client.invalidateQueries({ queryKey: notificationKeys.unread(viewerId) }),
  });
}

export function useMarkAllRead() {
  const client = useQueryClient();
  const viewerId = useViewerId() ?? "";
  return useMutation({
    mutationFn: () => unwrap(api.POST("/api/notifications/read-all")),
    onSuccess: () => {
      const now = new Date().toISOString();
      mapNotifications(client, viewerId, (n) => (n.read_at === null ? { ...n, read_at: now } : n));
      client.setQueryData<UnreadCountBody>(notificationKeys.unread(viewerId), { unread: 0 });
    },
    onSettled: () => void client.invalidateQueries({ queryKey: ["notifications", viewerId] }),
  });
}

export function useNotificationSettings() {
  const viewerId = useViewerId();
  return useQuery({
    queryKey: notificationKeys.settings(viewerId ?? ""),
    enabled: viewerId !== null,
    queryFn: () => unwrap(api.GET("/api/users/me/notification-settings")),
  });
}

/** Change some settings (the server keeps whatever the body leaves out); the switches move at once. */
export function useUpdateNotificationSettings() {
  const client = useQueryClient();
  const viewerId = useViewerId() ?? "";
  const key = notificationKeys.settings(viewerId);
  return useMutation({
    mutationFn: (body: NotificationSettingsBody) => unwrap(api.PUT("/api/users/me/notification-settings", { body })),
    onMutate: async (body) => {
      await client.cancelQueries({ queryKey: key });
      const before = client.getQueryData<NotificationSettings>(key);
      if (before) {
        const kinds = { ...before.kinds };
        for (const [kind, on] of Object.entries(body.kinds ?? {})) {
          if (typeof on === "boolean") kinds[kind as keyof typeof kinds] = on;
        }
        client.setQueryData<NotificationSettings>(key, {
          ...before,
          email: body.email ?? before.email,
          push: body.push ?? before.push,
          kinds,
        });
      }
      return { before };
    },
    onError: (_err, _body, context) => {
      if (context?.before) client.setQueryData(key, context.before);
    },
    onSuccess: (saved) => client.setQueryData(key, saved),
  });
}
