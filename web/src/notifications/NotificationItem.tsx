import { Link } from "react-router-dom";
import type { Notification } from "../api/types";
import { formatAgo, formatDateTime } from "../lib/format";
import { describeNotification } from "./describe";

/**
 * One notification: a link to what it is about (or a button when it names nothing to open). Clicking
 * it calls `onOpen`, which marks it read; the router navigates at the same time.
 */
export function NotificationItem({
  notification,
  me,
  onOpen,
  className = "notification",
}: {
  notification: Notification;
  me: string;
  onOpen: (notification: Notification) => void;
  className?: string;
}) {
  const { text, href } = describeNotification(notification, me);
  const unread = notification.read_at === null;
  const body = (
    <>
      <span className="notification-dot" aria-hidden="true" />
      <span className="notification-body">
        <span className="notification-text">{text}</span>
        <time className="notification-time" dateTime={notification.created_at} title={formatDateTime(notification.created_at)}>
          {formatAgo(notification.created_at)}
        </time>
      </span>
      {unread ? <span className="visually-hidden"> (unread)</span> : null}
    </>
  );
  const classes = `${className}${unread ? " notification--unread" : ""}`;
  return (
    <li data-testid="notification" data-unread={unread ? "true" : "false"} data-kind={notification.kind}>
      {href ? (
        <Link to={href} className={classes} onClick={() => onOpen(notification)}>
          {body}
        </Link>
      ) : (
        <button type="button" className={classes} onClick={() => onOpen(notification)}>
          {body}
        </button>
      )}
    </li>
  );
}
