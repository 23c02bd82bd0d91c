// The watch page's WebSocket: one per page, for chat, the viewer count and the stream's state.
// It reconnects by itself (capped exponential backoff with jitter), signs in with the in-memory
// access token (never in the URL) and again whenever that token changes, and keeps the connection
// warm with a ping. See docs/realtime.md for the protocol.
import { refreshSession } from "../api/client";
import { getAccessToken, subscribe as subscribeSession } from "../auth/session";
import {
  CloseCode,
  parseServerFrame,
  type ClientFrame,
  type ServerFrame,
  type ServerFrameOf,
  type ServerFrameType,
} from "./protocol";

/**
 * - connecting: the first attempt is under way
 * - open: connected (frames flow)
 * - reconnecting: the connection dropped; waiting for, or making, the next attempt
 * - closed: stopped for good (close() was called, or the stream does not exist)
 */
export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

export const PING_INTERVAL_MS = 20_000;
/** With no frame at all for this long (pongs included), the connection is taken for dead. */
export const IDLE_TIMEOUT_MS = 50_000;
export const BACKOFF_BASE_MS = 1_000;
export const BACKOFF_MAX_MS = 30_000;

/**
 * How long to wait before reconnect attempt number `attempt` (0 for the first retry): the
 * exponential step, capped, then jittered into [half, full] so many viewers dropped by one server
 * restart do not all come back in the same instant.
 */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const step = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt));
  return Math.round(step / 2 + random() * (step / 2));
}

/** ws: or wss: like the page, same host and port as the page (and the API). */
export function streamSocketUrl(streamId: string, location: Pick<Location, "protocol" | "host"> = globalThis.location): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/streams/${encodeURIComponent(streamId)}`;
}

type FrameEvents = { [T in ServerFrameType]: ServerFrameOf<T> };

export interface SocketEvents extends FrameEvents {
  /** Every frame, whatever its type. */
  frame: ServerFrame;
  state: ConnectionState;
}

export interface SocketOptions {
  url?: string;
  /** The WebSocket class; the global one unless a test passes a fake. */
  WebSocketImpl?: typeof WebSocket;
  random?: () => number;
  getToken?: () => string | null;
  /** Called with a listener to run whenever the session (and so maybe the token) changes. */
  onSessionChange?: (listener: () => void) => () => void;
  /** Exchange the refresh cookie for a new access token; resolves whether it worked. */
  refresh?: () => Promise<boolean>;
}

type Handler<T> = (payload: T) => void;

export class StreamSocket {
  readonly url: string;
  private readonly WebSocketImpl: () => typeof WebSocket;
  private readonly random: () => number;
  private readonly getToken: () => string | null;
  private readonly onSessionChange: (listener: () => void) => () => void;
  private readonly refresh: () => Promise<boolean>;

  private ws: WebSocket | null = null;
  private stateValue: ConnectionState = "connecting";
  private started = false;
  private stopped = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private lastFrameAt = 0;
  /** The token sent in the last `auth` on this connection (null: not signed in on it). */
  private authToken: string | null = null;
  /** A refresh was already tried for an auth failure since the last auth.ok. */
  private refreshTried = false;
  private unsubscribeSession: (() => void) | null = null;
  private readonly handlers = new Map<keyof SocketEvents, Set<Handler<never>>>();

  constructor(streamId: string, options: SocketOptions = {}) {
    this.url = options.url ?? streamSocketUrl(streamId);
    this.WebSocketImpl = () => options.WebSocketImpl ?? globalThis.WebSocket;
    this.random = options.random ?? Math.random;
    this.getToken = options.getToken ?? getAccessToken;
    this.onSessionChange = options.onSessionChange ?? subscribeSession;
    this.refresh = options.refresh ?? refreshSession;
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Listen for one frame type, every frame ("frame") or connection changes ("state"). Returns an unsubscribe. */
  on<K extends keyof SocketEvents>(event: K, handler: Handler<SocketEvents[K]>): () => void {
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

  /** Stop for good: close the connection and cancel any retry. */
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
    this.setState("closed");
  }

  /** Send a frame if the connection is open; false if it is not (nothing is queued). */
  send(frame: ClientFrame): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== ws.OPEN || this.stateValue !== "open") return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** Drop the connection now and come back at once (e.g. signed out: the server forgets who we were). */
  reconnectNow(): void {
    if (this.stopped || !this.started) return;
    this.attempt = 0;
    this.drop(0);
  }

  // ---------- internals ----------

  private emit<K extends keyof SocketEvents>(event: K, payload: SocketEvents[K]): void {
    for (const handler of [...(this.handlers.get(event) ?? [])]) (handler as Handler<SocketEvents[K]>)(payload);
  }

  private setState(next: ConnectionState): void {
    if (next === this.stateValue) return;
    this.stateValue = next;
    this.emit("state", next);
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
    // An error is always followed by a close event; the close decides what happens next.
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
      // Half-open TCP: nothing has come back, not even pongs. Start over.
      this.drop();
      return;
    }
    this.send({ type: "ping" });
  }

  private onMessage(ws: WebSocket, data: unknown): void {
    if (ws !== this.ws) return;
    this.lastFrameAt = Date.now();
    const frame = parseServerFrame(data);
    if (!frame) return;
    if (frame.type === "hello") this.attempt = 0; // a connection that says hello is a good one
    if (frame.type === "auth.ok") this.refreshTried = false;
    if (frame.type === "error" && (frame.code === "UNAUTHENTICATED" || frame.code === "TOKEN_INVALID")) {
      void this.recoverAuth();
    }
    this.emit(frame.type, frame as never);
    this.emit("frame", frame);
  }

  private onClose(ws: WebSocket, code: number): void {
    if (ws !== this.ws) return;
    this.detach(ws);
    this.ws = null;
    this.clearTimers();
    if (code === CloseCode.NOT_FOUND) {
      this.stopped = true;
      this.unsubscribeSession?.();
      this.setState("closed");
      return;
    }
    this.scheduleRetry();
  }

  /** Close the current connection (if any) and retry after `delay` (the backoff by default). */
  private drop(delay?: number): void {
    const ws = this.ws;
    this.ws = null;
    this.clearTimers();
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

  /** Sign in on this connection with the current token, if there is one and it was not sent yet. */
  private authenticate(force = false): void {
    const token = this.getToken();
    if (!token || (!force && token === this.authToken)) return;
    if (this.send({ type: "auth", token })) this.authToken = token;
  }

  private onTokenChange(): void {
    if (this.stateValue !== "open") return; // the next connection signs in on open
    const token = this.getToken();
    if (token === this.authToken) return;
    if (token) {
      this.authenticate();
    } else {
      // Signed out: there is no "unauth" frame, so come back as an anonymous viewer.
      this.reconnectNow();
    }
  }

  /** The server no longer takes our token: refresh once, then sign in again with the new one. */
  private async recoverAuth(): Promise<void> {
    if (this.refreshTried || !this.getToken()) return;
    this.refreshTried = true;
    const before = this.getToken();
    const ok = await this.refresh();
    // A new token reaches the socket through the session listener; an unchanged one is re-sent here.
    if (ok && !this.stopped && this.getToken() === before) this.authenticate(true);
  }
}
