// The header's bell: the unread count (live over /ws/me, polled as a fallback: see src/api/notifications.ts)
// and a dropdown of the latest few.
import { useEffect, useRef, useState } from "react";
import { Link, useLocation } from "react-router-dom";
import { errorMessage } from "../api/errors";
import {
  UNREAD_POLL_MS,
  UNREAD_SLOW_POLL_MS,
  useLatestNotifications,
  useMarkAllRead,
  useMarkRead,
  useUnreadCount,
} from "../api/notifications";
import type { Notification, UserPrivate } from "../api/types";
import { Spinner } from "../components/Status";
import { badgeText } from "./describe";
import { NotificationItem } from "./NotificationItem";
import { useLiveNotifications } from "./useLiveNotifications";

export function BellIcon({ off = false, size = 18 }: { off?: boolean; size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" className="bell-icon">
      <path
        d="M6 16V11a6 6 0 0 1 12 0v5l1.5 2h-15L6 16Zm4 4a2 2 0 0 0 4 0"
        fill="none"
        stroke="currentColor"
        strokeWidth="1.8"
        strokeLinejoin="round"
      />
      {off ? <path d="M4 4l16 16" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" /> : null}
    </svg>
  );
}

export function NotificationBell({ user }: { user: UserPrivate }) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const location = useLocation();
  const live = useLiveNotifications(user.user_id);
  const count = useUnreadCount(live ? UNREAD_SLOW_POLL_MS : UNREAD_POLL_MS);
  const latest = useLatestNotifications(open);
  const markRead = useMarkRead();
  const markAll = useMarkAllRead();

  useEffect(() => {
    setOpen(false);
  }, [location.pathname]);

  useEffect(() => {
    if (!open) return;
    const onPointer = (event: PointerEvent) => {
      if (!root.current?.contains(event.target as Node)) setOpen(false);
    };
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") setOpen(false);
    };
    document.addEventListener("pointerdown", onPointer);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("pointerdown", onPointer);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);

  const unread = count.data?.unread ?? 0;
  const badge = badgeText(unread);
  const onOpen = (notification: Notification) => {
    if (notification.read_at === null) markRead.mutate(notification);
    setOpen(false);
  };
  const items = latest.data?.items ?? [];

  return (
    <div className="notif-menu" ref={root}>
      <button
        type="button"
        className="notif-bell"
        aria-haspopup="true"
        aria-expanded={open}
        aria-controls="notif-panel"
        aria-label={badge ? `Notifications, ${badge} unread` : "Notifications"}
        data-testid="notification-bell"
        data-live={live ? "true" : "false"}
        onClick={() => setOpen((v) => !v)}
      >
        <BellIcon />
        {badge ? (
          <span className="notif-badge" data-testid="notification-badge" aria-hidden="true">
            {badge}
          </span>
        ) : null}
      </button>
      {open ? (
        <div className="notif-panel" id="notif-panel" role="region" aria-label="Notifications" data-testid="notification-panel">
          <div className="notif-panel-head">
            <strong>Notifications</strong>
            <button
              type="button"
              className="btn btn--ghost btn--sm"
              onClick={() => markAll.mutate()}
              disabled={markAll.isPending || (unread === 0 && !items.some((n) => n.read_at === null))}
            >
              {markAll.isPending ? "Marking…" : "Mark all as read"}
            </button>
          </div>
          {markAll.isError ? (
            <p className="form-error notif-error" role="alert">
              {errorMessage(markAll.error)}
            </p>
          ) : null}
          {latest.isPending ? (
            <Spinner label="Loading notifications…" />
          ) : latest.isError ? (
            <p className="form-error notif-error" role="alert">
              {errorMessage(latest.error)}
            </p>
          ) : items.length === 0 ? (
            <p className="muted notif-empty">No notifications yet.</p>
          ) : (
            <ul className="notif-list" data-testid="notification-list">
              {items.map((n) => (
                <NotificationItem key={n.notification_id} notification={n} me={user.username} onOpen={onOpen} />
              ))}
            </ul>
          )}
          <div className="notif-panel-foot">
            <Link to="/notifications" className="notif-foot-link">
              See all notifications
            </Link>
            <Link to="/settings/notifications" className="notif-foot-link muted">
              Settings
            </Link>
          </div>
        </div>
      ) : null}
    </div>
  );
}
