// What a notification says, and where clicking it goes. Payloads come from the server as free-form
// JSON, so every field is checked before it is used.
import type { Notification } from "../api/types";
import { formatMoney } from "../tips/money";

export interface Described {
  text: string;
  /** Where clicking it goes; null when the payload names nothing to open. */
  href: string | null;
}

const str = (v: unknown): string | null => (typeof v === "string" && v.trim() !== "" ? v : null);
const rec = (v: unknown): Record<string, unknown> => (typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {});

function watch(streamId: string | null): string | null {
  return streamId ? `/watch/${encodeURIComponent(streamId)}` : null;
}

function listNames(names: string[]): string {
  if (names.length <= 1) return names[0] ?? "";
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

/** "Alice followed you", "Alice and Bob followed you", "Alice, Bob and 3 others followed you". */
export function followersText(count: number, names: string[]): string {
  const others = Math.max(0, count - names.length);
  if (names.length === 0) return `${count} new ${count === 1 ? "person" : "people"} followed you`;
  if (others === 0) return `${listNames(names)} followed you`;
  return `${names.join(", ")} and ${others} ${others === 1 ? "other" : "others"} followed you`;
}

/** `me` is the viewer's username (for their followers page). */
export function describeNotification(notification: Notification, me: string): Described {
  const payload = rec(notification.payload);
  switch (notification.kind) {
    case "stream_started": {
      const creator = rec(payload.creator);
      const who = str(creator.display_name) ?? str(creator.username) ?? "Someone you follow";
      const title = str(payload.title);
      return {
        text: title ? `${who} is live: ${title}` : `${who} is live`,
        href: watch(str(payload.stream_id)),
      };
    }
    case "archive_ready": {
      const title = str(payload.title);
      return {
        text: title ? `Your replay of ${title} is ready` : "Your replay is ready",
        href: watch(str(payload.stream_id)),
      };
    }
    case "new_follower": {
      const names = Array.isArray(payload.names) ? payload.names.filter((n): n is string => typeof n === "string") : [];
      const count = typeof payload.count === "number" && payload.count > 0 ? payload.count : Math.max(1, names.length);
      return { text: followersText(count, names), href: `/u/${encodeURIComponent(me)}/followers` };
    }
    case "schedule_reminder": {
      const creator = rec(payload.creator);
      const who = str(creator.display_name) ?? str(creator.username);
      const title = str(payload.title);
      const text = who && title ? `${who} goes live soon: ${title}` : title ? `Starting soon: ${title}` : "A scheduled stream starts soon";
      // The creator's channel lists the plan with its countdown (and the stream, once it is live).
      const username = str(creator.username);
      return { text, href: watch(str(payload.stream_id)) ?? (username ? `/u/${encodeURIComponent(username)}` : null) };
    }
    case "tip_received": {
      const sender = rec(payload.sender);
      const who = str(sender.display_name) ?? str(sender.username) ?? "Someone";
      const currency = str(payload.currency);
      const amount = typeof payload.amount === "number" && Number.isFinite(payload.amount) && currency ? formatMoney(payload.amount, currency) : null;
      const message = str(payload.message);
      const base = amount ? `${who} tipped you ${amount}` : `${who} sent you a tip`;
      return { text: message ? `${base}: “${message}”` : base, href: "/earnings" };
    }
    default:
      return { text: "New notification", href: null };
  }
}

/** The badge's text: nothing at 0, "99+" past 99. */
export function badgeText(unread: number): string | null {
  if (!Number.isFinite(unread) || unread <= 0) return null;
  return unread > 99 ? "99+" : String(Math.floor(unread));
}
