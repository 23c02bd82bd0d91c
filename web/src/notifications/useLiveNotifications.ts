// The signed-in user's live channel (/ws/me) feeding the notification queries: the unread count moves
// at once, and the lists (the bell's dropdown, the notifications page) refetch when one arrives.
// Nothing is fetched per frame for the count: a go-live reaching thousands of open pages must not
// make each of them ask the server at the same instant.
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { notificationKeys } from "../api/notifications";
import type { UnreadCountBody } from "../api/types";
import { MeSocket, type MeSocketOptions } from "../realtime/meSocket";

/**
 * Opens /ws/me for `userId` (null: nobody signed in, no socket) and returns whether it is live (the
 * server took our token, so new notifications reach this page as they happen).
 */
export function useLiveNotifications(userId: string | null, options?: MeSocketOptions): boolean {
  const client = useQueryClient();
  const [live, setLive] = useState(false);

  useEffect(() => {
    if (userId === null) return;
    const socket = new MeSocket(options);
    const unreadKey = notificationKeys.unread(userId);
    const setUnread = (unread: number) => client.setQueryData<UnreadCountBody>(unreadKey, { unread });
    const offs = [
      socket.on("live", setLive),
      // At every (re)connection: whatever arrived while the socket was down is in this count.
      socket.on("auth.ok", (frame) => {
        if (frame.user.user_id === userId) setUnread(frame.unread);
      }),
      socket.on("notification", (frame) => {
        if (frame.new) {
          client.setQueryData<UnreadCountBody>(unreadKey, (old) => (old ? { unread: old.unread + 1 } : old));
        }
        void client.invalidateQueries({ queryKey: notificationKeys.lists(userId) });
      }),
      // Read in another tab (or on another device): the count the server has now.
      socket.on("notifications.read", (frame) => {
        setUnread(frame.unread);
        void client.invalidateQueries({ queryKey: notificationKeys.lists(userId) });
      }),
    ];
    socket.start();
    return () => {
      for (const off of offs) off();
      socket.close();
      setLive(false);
    };
    // `options` (a test's fakes) is read once per user: a new object each render must not reconnect.
  }, [userId, client]);

  return live;
}
