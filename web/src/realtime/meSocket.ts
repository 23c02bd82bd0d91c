// The signed-in user's own WebSocket (GET /ws/me, docs/realtime.md): new notifications and the unread
// count, live. One per page while someone is signed in. Like the watch page's socket (socket.ts) it
// reconnects by itself with the same jittered backoff, signs in with the in-memory access token (an
// `auth` frame, never the URL) and again whenever the token changes, refreshes the token once when the
// server refuses it, and pings to keep the connection warm. Unlike it, the socket is useless signed out:
// the server closes it (4401) unless `auth` arrives within a few seconds.
import type { Notification } from "../api/types";
import { refreshSession } from "../api/client";
import { getAccessToken, subscribe as subscribeSession } from "../auth/session";
import type { ChatUser, ErrorFrame, PongFrame } from "./protocol";
import { BACKOFF_MAX_MS, IDLE_TIMEOUT_MS, PING_INTERVAL_MS, backoffDelay, type ConnectionState } from "./socket";

// ---------- protocol ----------

export interface MeAuthOkFrame {
  type: "auth.ok";
  user: ChatUser;
  /** The user's unread count as of this sign-in. */
  unread: number;
}

export interface LiveNotificationFrame {
  type: "notification";
  notification: Notification;
  /** False when an unread notification was updated (e.g. "3 new followers" counting up): the count stands. */
  new: boolean;
}

export interface NotificationsReadFrame {
  type: "notifications.read";
  unread: number;
}

export type MeServerFrame = MeAuthOkFrame | LiveNotificationFrame | NotificationsReadFrame | PongFrame | ErrorFrame;
export type MeFrameType = MeServerFrame["type"];

export const MeCloseCode = {
  /** No valid `auth` in time, or too many bad tokens. */
  UNAUTHENTICATED: 4401,
  /** This account has too many pages open. */
  TOO_MANY_SOCKETS: 4429,
} as const;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === "string";
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

function isNotification(v: unknown): v is Notification {
  return (
    isRecord(v) &&
    isString(v.notification_id) &&
    isString(v.kind) &&
    isRecord(v.payload) &&
    isString(v.created_at) &&
    (v.read_at === null || isString(v.read_at))
  );
}

/** A frame of this socket, or null for anything this client does not understand (ignored, not fatal). */
export function parseMeFrame(raw: unknown): MeServerFrame | null {
  if (!isString(raw)) return null;
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isRecord(data) || !isString(data.type)) return null;
  switch (data.type) {
    case "auth.ok":
      if (!isRecord(data.user) || !isString(data.user.user_id) || !isString(data.user.username)) return null;
      return {
        type: "auth.ok",
        user: { user_id: data.user.user_id, username: data.user.username },
        unread: isCount(data.unread) ? data.unread : 0,
      };
    case "notification":
      return isNotification(data.notification)
        ? { type: "notification", notification: data.notification, new: data.new === true }
        : null;
    case "notifications.read":
      return isCount(data.unread) ? { type: "notifications.read", unread: data.unread } : null;
    case "pong":
      return { type: "pong" };
    case "error":
      return isString(data.code) ? { type: "error", code: data.code, error: isString(data.error) ? data.error : data.code } : null;
    default:
      return null;
  }
}

// ---------- the socket ----------

/** ws: or wss: like the page, same host and port as the page (and the API). */
export function meSocketUrl(location: Pick<Location, "protocol" | "host"> = globalThis.location): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/me`;
}

type FrameEvents = { [T in MeFrameType]: Extract<MeServerFrame, { type: T }> };

export interface MeSocketEvents extends FrameEvents {
  state: ConnectionState;
  /** Whether the server has taken our token on the current connection (frames for us flow). */
  live: boolean;
}

export interface MeSocketOptions {
  url?: string;
  WebSocketImpl?: typeof WebSocket;
  random?: () => number;
  getToken?: () => string | null;
  onSessionChange?: (listener: () => void) => () => void;
  refresh?: () => Promise<boolean>;
}

type Handler<T> = (payload: T) => void;

export class MeSocket {
  readonly url: string;
  private readonly WebSocketImpl: () => typeof WebSocket;
  private readonly random: () => number;
  private readonly getToken: () => string | null;
  private readonly onSessionChange: (listener: () => void) => () => void;
  private readonly refresh: () => Promise<boolean>;

  private ws: WebSocket | null = null;
  private stateValue: ConnectionState = "connecting";
  private liveValue = false;
  private started = false;
  private stopped = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private lastFrameAt = 0;
  private authToken: string | null = null;
  private refreshTried = false;
  private unsubscribeSession: (() => void) | null = null;
  private readonly handlers = new Map<keyof MeSocketEvents, Set<Handler<never>>>();

  constructor(options: MeSocketOptions = {}) {
    this.url = options.url ?? meSocketUrl();
    this.WebSocketImpl = () => options.WebSocketImpl ?? globalThis.WebSocket;
    this.random = options.random ?? Math.random;
    this.getToken = options.getToken ?? getAccessToken;
    this.onSessionChange = options.onSessionChange ?? subscribeSession;
    this.refresh = options.refresh ?? refreshSession;
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  get live(): boolean {
    return this.liveValue;
  }

  on<K extends keyof MeSocketEvents>(event: K, handler: Handler<MeSocketEvents[K]>): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler as Handler<never>);
    return () => set.delete(handler as Handler<never>);
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.unsubscribeSession = this.onSessionChange(() => this.onTokenChange());
    this.connect();
  }

  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribeSession?.();
    this.unsubscribeSession = null;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      this.detach(ws);
      if (ws.readyState === ws.CONNECTING || ws.readyState === ws.OPEN) ws.close(1000, "bye");
    }
    this.setLive(false);
    this.setState("closed");
  }

  // ---------- internals ----------

  private emit<K extends keyof MeSocketEvents>(event: K, payload: MeSocketEvents[K]): void {
    for (const handler of [...(this.handlers.get(event) ?? [])]) (handler as Handler<MeSocketEvents[K]>)(payload);
  }

  private setState(next: ConnectionState): void {
    if (next === this.stateValue) return;
    this.stateValue = next;
    this.emit("state", next);
  }

  private setLive(next: boolean): void {
    if (next === this.liveValue) return;
    this.liveValue = next;
    this.emit("live", next);
  }

  private send(frame: { type: "auth"; token: string } | { type: "ping" }): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== ws.OPEN) return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  private connect(): void {
    if (this.stopped) return;
    this.retryTimer = null;
    let ws: WebSocket;
    try {
      ws = new (this.WebSocketImpl())(this.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    this.authToken = null;
    ws.onopen = () => this.onOpen(ws);
    ws.onmessage = (event: MessageEvent) => this.onMessage(ws, event.data);
    ws.onclose = (event: CloseEvent) => this.onClose(ws, event.code);
    ws.onerror = () => {};
  }

  private detach(ws: WebSocket): void {
    ws.onopen = null;
    ws.onmessage = null;
    ws.onclose = null;
    ws.onerror = null;
  }

  private onOpen(ws: WebSocket): void {
    if (ws !== this.ws) return;
    this.lastFrameAt = Date.now();
    this.setState("open");
    this.authenticate();
    this.pingTimer = setInterval(() => this.tick(), PING_INTERVAL_MS);
  }

  private tick(): void {
    if (Date.now() - this.lastFrameAt > IDLE_TIMEOUT_MS) {
      this.drop();
      return;
    }
    this.send({ type: "ping" });
  }

  private onMessage(ws: WebSocket, data: unknown): void {
    if (ws !== this.ws) return;
    this.lastFrameAt = Date.now();
    const frame = parseMeFrame(data);
    if (!frame) return;
    if (frame.type === "auth.ok") {
      // A connection the server signed us in on is a good one.
      this.attempt = 0;
      this.refreshTried = false;
      this.setLive(true);
    }
    if (frame.type === "error" && (frame.code === "UNAUTHENTICATED" || frame.code === "TOKEN_INVALID")) {
      this.setLive(false);
      void this.recoverAuth();
    }
    this.emit(frame.type, frame as never);
  }

  private onClose(ws: WebSocket, code: number): void {
    if (ws !== this.ws) return;
    this.detach(ws);
    this.ws = null;
    this.clearTimers();
    this.setLive(false);
    // Too many pages open for this account: come back rarely, the others are serving the user.
    this.scheduleRetry(code === MeCloseCode.TOO_MANY_SOCKETS ? BACKOFF_MAX_MS : undefined);
  }

  private drop(delay?: number): void {
    const ws = this.ws;
    this.ws = null;
    this.clearTimers();
    this.setLive(false);
    if (ws) {
      this.detach(ws);
      if (ws.readyState === ws.CONNECTING || ws.readyState === ws.OPEN) ws.close(4001, "reconnect");
    }
    this.scheduleRetry(delay);
  }

  private scheduleRetry(delay?: number): void {
    if (this.stopped) return;
    this.setState("reconnecting");
    const wait = delay ?? backoffDelay(this.attempt, this.random);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.connect(), wait);
  }

  private clearTimers(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.retryTimer = null;
    this.pingTimer = null;
  }

  private authenticate(force = false): void {
    const token = this.getToken();
    if (!token || (!force && token === this.authToken)) return;
    if (this.send({ type: "auth", token })) this.authToken = token;
  }

  private onTokenChange(): void {
    if (this.stateValue !== "open") return; // the next connection signs in on open
    const token = this.getToken();
    if (token && token !== this.authToken) this.authenticate();
  }

  private async recoverAuth(): Promise<void> {
    if (this.refreshTried || !this.getToken()) return;
    this.refreshTried = true;
    const before = this.getToken();
    const ok = await this.refresh();
    if (ok && !this.stopped && this.getToken() === before) this.authenticate(true);
  }
}
