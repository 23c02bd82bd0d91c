// The watch page's WebSocket protocol (GET /ws/streams/{stream_id}), written by hand from
// docs/realtime.md: the socket is not part of the OpenAPI document. Every frame is a JSON object
// with a `type`; frames are at most 4 KiB.

export type ChatRole = "viewer" | "moderator" | "creator";
export type LiveStatus = "live" | "ended";
export type LiveMediaState = "waiting" | "live" | "reconnecting" | "ended";

export interface ChatUser {
  user_id: string;
  username: string;
}

export interface StreamInfo {
  status: LiveStatus;
  media_state: LiveMediaState;
  title: string;
  description: string | null;
}

// ---------- server → client ----------

export interface ChatMessageFrame {
  type: "chat.message";
  id: string;
  user: ChatUser;
  text: string;
  /** ISO 8601, UTC. */
  sent_at: string;
}

/** A tip that succeeded, shown highlighted in the chat (live and in the history). */
export interface TipFrame {
  type: "tip";
  /** "tip:<transaction_id>": unique in the chat like a message id. */
  id: string;
  transaction_id: string;
  /** null once the sender's account is gone. */
  user: ChatUser | null;
  /** In the currency's minor unit (yen for JPY, cents for USD and EUR). */
  amount: number;
  currency: string;
  message: string | null;
  /** ISO 8601, UTC. */
  sent_at: string;
}

export interface HelloFrame {
  type: "hello";
  stream_id: string;
  viewer_count: number;
  /** Chat messages and tips, oldest first. */
  history: Array<ChatMessageFrame | TipFrame>;
  stream: StreamInfo;
  chat: { slow_mode_seconds: number };
}

export interface AuthOkFrame {
  type: "auth.ok";
  user: ChatUser;
  role: ChatRole;
}

export interface ChatAckFrame {
  type: "chat.ack";
  nonce: string;
  id: string;
}

export interface ChatDeletedFrame {
  type: "chat.deleted";
  id: string;
}

export interface ChatSettingsFrame {
  type: "chat.settings";
  slow_mode_seconds: number;
}

export interface ViewersFrame {
  type: "viewers";
  count: number;
}

export interface StreamStatusFrame extends StreamInfo {
  type: "stream.status";
}

export type ArchiveStatus = "processing" | "ready" | "failed";

/** An archive's processing advanced (sent on its stream's channel, also after the stream ended). */
export interface ArchiveStatusFrame {
  type: "archive.status";
  archive_id: string;
  stream_id: string;
  status: ArchiveStatus;
  /** 0..100 */
  progress: number;
  failure_reason: string | null;
}

export interface PongFrame {
  type: "pong";
}

export type ErrorCode =
  | "BAD_FRAME"
  | "TOKEN_INVALID"
  | "UNAUTHENTICATED"
  | "EMPTY_MESSAGE"
  | "MESSAGE_TOO_LONG"
  | "RATE_LIMITED"
  | "SLOW_MODE"
  | "BANNED"
  | "STREAM_ENDED"
  | "STREAM_NOT_FOUND";

export interface ErrorFrame {
  type: "error";
  /** One of ErrorCode; kept open so a newer server's code is still shown. */
  code: ErrorCode | (string & {});
  /** A readable message from the server. */
  error: string;
  /** Present when the error answers a chat.send. */
  nonce?: string;
  /** Seconds, for RATE_LIMITED and SLOW_MODE. */
  retry_after?: number;
  /** ISO 8601, for a timed-out (not permanent) BANNED. */
  until?: string;
}

export type ServerFrame =
  | HelloFrame
  | AuthOkFrame
  | ChatMessageFrame
  | TipFrame
  | ChatAckFrame
  | ChatDeletedFrame
  | ChatSettingsFrame
  | ViewersFrame
  | StreamStatusFrame
  | ArchiveStatusFrame
  | PongFrame
  | ErrorFrame;

export type ServerFrameType = ServerFrame["type"];
export type ServerFrameOf<T extends ServerFrameType> = Extract<ServerFrame, { type: T }>;

// ---------- client → server ----------

export interface AuthFrame {
  type: "auth";
  token: string;
}

export interface ChatSendFrame {
  type: "chat.send";
  text: string;
  /** Client-chosen, at most 64 characters, echoed in chat.ack or error. */
  nonce: string;
}

export interface PingFrame {
  type: "ping";
}

export type ClientFrame = AuthFrame | ChatSendFrame | PingFrame;

// ---------- limits and close codes ----------

/** Longest chat message, in characters after trimming. */
export const MESSAGE_MAX = 500;
export const NONCE_MAX = 64;

export const CloseCode = {
  /** A frame over 4 KiB. */
  TOO_BIG: 1009,
  /** The server is restarting; reconnect. */
  RESTART: 1012,
  /** The client read too slowly; reconnect. */
  SLOW_CONSUMER: 4000,
  /** No such stream: do not reconnect. */
  NOT_FOUND: 4404,
} as const;

// ---------- parsing ----------

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === "string";
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

function isUser(v: unknown): v is ChatUser {
  return isRecord(v) && isString(v.user_id) && isString(v.username);
}

function isChatMessage(v: unknown): v is ChatMessageFrame {
  return isRecord(v) && isString(v.id) && isUser(v.user) && isString(v.text) && isString(v.sent_at);
}

function tipFrame(v: unknown): TipFrame | null {
  if (!isRecord(v) || !isString(v.id) || !isString(v.transaction_id) || !isNumber(v.amount) || !isString(v.currency)) return null;
  if (!isString(v.sent_at) || !(v.user === null || v.user === undefined || isUser(v.user))) return null;
  return {
    type: "tip",
    id: v.id,
    transaction_id: v.transaction_id,
    user: isUser(v.user) ? { user_id: v.user.user_id, username: v.user.username } : null,
    amount: v.amount,
    currency: v.currency,
    message: isString(v.message) && v.message !== "" ? v.message : null,
    sent_at: v.sent_at,
  };
}

/** One history entry: a tip (it says so) or a chat message (older servers send those without a type). */
function historyEntry(v: unknown): ChatMessageFrame | TipFrame | null {
  if (isRecord(v) && v.type === "tip") return tipFrame(v);
  if (isRecord(v) && v.type !== undefined && v.type !== "chat.message") return null;
  return isChatMessage(v) ? { type: "chat.message", id: v.id, user: v.user, text: v.text, sent_at: v.sent_at } : null;
}

function isStreamInfo(v: unknown): v is StreamInfo {
  return (
    isRecord(v) &&
    (v.status === "live" || v.status === "ended") &&
    isString(v.media_state) &&
    isString(v.title) &&
    (v.description === null || v.description === undefined || isString(v.description))
  );
}

/** Only the fields this client knows, with a missing description as null. */
function streamInfo(v: StreamInfo): StreamInfo {
  return { status: v.status, media_state: v.media_state, title: v.title, description: v.description ?? null };
}

/**
 * A server frame from a text message, or null for anything this client does not understand
 * (not JSON, an unknown type, a field of the wrong type): such frames are ignored, not fatal.
 */
export function parseServerFrame(raw: unknown): ServerFrame | null {
  if (!isString(raw)) return null;
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isRecord(data) || !isString(data.type)) return null;
  switch (data.type) {
    case "hello": {
      if (!isNumber(data.viewer_count) || !Array.isArray(data.history) || !isStreamInfo(data.stream)) return null;
      const slow = isRecord(data.chat) && isNumber(data.chat.slow_mode_seconds) ? data.chat.slow_mode_seconds : 0;
      return {
        type: "hello",
        stream_id: isString(data.stream_id) ? data.stream_id : "",
        viewer_count: data.viewer_count,
        history: data.history.map(historyEntry).filter((e): e is ChatMessageFrame | TipFrame => e !== null),
        stream: streamInfo(data.stream),
        chat: { slow_mode_seconds: slow },
      };
    }
    case "auth.ok":
      if (!isUser(data.user) || !isString(data.role)) return null;
      return { type: "auth.ok", user: data.user, role: data.role as ChatRole };
    case "chat.message":
      return isChatMessage(data)
        ? { type: "chat.message", id: data.id, user: data.user, text: data.text, sent_at: data.sent_at }
        : null;
    case "tip":
      return tipFrame(data);
    case "chat.ack":
      return isString(data.nonce) && isString(data.id) ? { type: "chat.ack", nonce: data.nonce, id: data.id } : null;
    case "chat.deleted":
      return isString(data.id) ? { type: "chat.deleted", id: data.id } : null;
    case "chat.settings":
      return isNumber(data.slow_mode_seconds) ? { type: "chat.settings", slow_mode_seconds: data.slow_mode_seconds } : null;
    case "viewers":
      return isNumber(data.count) ? { type: "viewers", count: data.count } : null;
    case "stream.status":
      return isStreamInfo(data) ? { type: "stream.status", ...streamInfo(data) } : null;
    case "archive.status":
      if (!isString(data.archive_id) || !isString(data.stream_id) || !isNumber(data.progress)) return null;
      if (data.status !== "processing" && data.status !== "ready" && data.status !== "failed") return null;
      return {
        type: "archive.status",
        archive_id: data.archive_id,
        stream_id: data.stream_id,
        status: data.status,
        progress: Math.min(100, Math.max(0, data.progress)),
        failure_reason: isString(data.failure_reason) ? data.failure_reason : null,
      };
    case "pong":
      return { type: "pong" };
    case "error": {
      if (!isString(data.code)) return null;
      const frame: ErrorFrame = { type: "error", code: data.code, error: isString(data.error) ? data.error : data.code };
      if (isString(data.nonce)) frame.nonce = data.nonce;
      if (isNumber(data.retry_after)) frame.retry_after = data.retry_after;
      if (isString(data.until)) frame.until = data.until;
      return frame;
    }
    default:
      return null;
  }
}
