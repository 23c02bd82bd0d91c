import { useState } from "react";
import { Link } from "react-router-dom";
import { errorMessage } from "../api/errors";
import { useMarkAllRead, useMarkRead, useNotificationPages, useUnreadCount } from "../api/notifications";
import type { Notification } from "../api/types";
import { useSession } from "../auth/auth";
import { EmptyState, Spinner } from "../components/Status";
import { usePageTitle } from "../lib/usePageTitle";
import { NotificationItem } from "../notifications/NotificationItem";

export function NotificationsPage() {
  const { user } = useSession();
  const [unreadOnly, setUnreadOnly] = useState(false);
  const list = useNotificationPages(unreadOnly);
  const count = useUnreadCount();
  const markRead = useMarkRead();
  const markAll = useMarkAllRead();
  usePageTitle("Notifications");
  if (!user) return null; // RequireAuth renders this page only for a signed-in user

  const items = list.data?.pages.flatMap((page) => page.items) ?? [];
  const unread = count.data?.unread ?? 0;
  const onOpen = (notification: Notification) => {
    if (notification.read_at === null) markRead.mutate(notification);
  };

  return (
    <section className="page page--narrow notifications-page" aria-labelledby="notifications-title">
      <header className="notifications-head">
        <h1 id="notifications-title">Notifications</h1>
        <div className="notifications-actions">
          <label className="switch-row">
            <input
              type="checkbox"
              role="switch"
              className="switch"
              checked={unreadOnly}
              onChange={(e) => setUnreadOnly(e.target.checked)}
            />
            <span>Unread only</span>
          </label>
          <button
            type="button"
            className="btn btn--secondary btn--sm"
            onClick={() => markAll.mutate()}
            disabled={markAll.isPending || (unread === 0 && !items.some((n) => n.read_at === null))}
          >
            {markAll.isPending ? "Marking…" : "Mark all as read"}
          </button>
          <Link to="/settings/notifications" className="btn btn--ghost btn--sm">
            Settings
          </Link>
        </div>
      </header>
      {markAll.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(markAll.error)}
        </p>
      ) : null}

      {list.isPending ? (
        <Spinner label="Loading notifications…" />
      ) : list.isError ? (
        <p className="form-error" role="alert">
          {errorMessage(list.error)}
        </p>
      ) : items.length === 0 ? (
        <EmptyState title={unreadOnly ? "No unread notifications." : "No notifications yet."}>
          {unreadOnly
            ? "You are all caught up."
            : "You hear here when someone you follow goes live, when your replays are ready, and when people follow you."}
        </EmptyState>
      ) : (
        <ul className="notif-list notif-list--page card" data-testid="notification-list">
          {items.map((n) => (
            <NotificationItem key={n.notification_id} notification={n} me={user.username} onOpen={onOpen} />
          ))}
        </ul>
      )}

      {list.hasNextPage ? (
        <div className="load-more">
          <button
            type="button"
            className="btn btn--secondary"
            onClick={() => void list.fetchNextPage()}
            disabled={list.isFetchingNextPage}
          >
            {list.isFetchingNextPage ? "Loading…" : "Load more"}
          </button>
        </div>
      ) : null}
      {list.isFetchNextPageError ? (
        <p className="form-error" role="alert">
          {errorMessage(list.error)}
        </p>
      ) : null}
    </section>
  );
}
