// A stand-in for the browser's WebSocket: records what the app sends and lets a test play the
// server (open, frames, close). Installed globally by setup.ts so no test opens a real socket.
import { act } from "@testing-library/react";

type Listener = (event: unknown) => void;

export class FakeWebSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;

  /** Every socket created since the last reset, oldest first. */
  static instances: FakeWebSocket[] = [];

  static reset(): void {
    FakeWebSocket.instances = [];
  }

  /** The sockets of watched streams (/ws/streams/…), leaving out the header bell's /ws/me of a signed-in page. */
  static streamSockets(): FakeWebSocket[] {
    return FakeWebSocket.instances.filter((ws) => new URL(ws.url).pathname.startsWith("/ws/streams/"));
  }

  /** The newest socket (the one a page is using now). */
  static latest(): FakeWebSocket {
    const ws = FakeWebSocket.instances.at(-1);
    if (!ws) throw new Error("no WebSocket was opened");
    return ws;
  }

  readonly url: string;
  readyState = FakeWebSocket.CONNECTING;
  /** Raw frames the client sent. */
  readonly sent: string[] = [];
  /** The code the client closed with, if it did. */
  closedWith: number | null = null;

  onopen: Listener | null = null;
  onmessage: Listener | null = null;
  onclose: Listener | null = null;
  onerror: Listener | null = null;
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(url: string | URL) {
    this.url = String(url);
    FakeWebSocket.instances.push(this);
  }

  send(data: string): void {
    if (this.readyState !== FakeWebSocket.OPEN) throw new Error("InvalidStateError: not open");
    this.sent.push(data);
  }

  close(code = 1000): void {
    if (this.readyState === FakeWebSocket.CLOSED) return;
    this.closedWith = code;
    this.readyState = FakeWebSocket.CLOSED;
    // A browser fires close later; a client that closed on purpose has detached by then anyway.
    queueMicrotask(() => this.fire("close", { code, reason: "", wasClean: true }));
  }

  addEventListener(type: string, listener: Listener): void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener);
  }

  removeEventListener(type: string, listener: Listener): void {
    this.listeners.get(type)?.delete(listener);
  }

  // ---------- the server's side, for tests (wrapped in act() so React sees the updates) ----------

  /** The handshake succeeded. */
  serverOpen(): void {
    act(() => {
      this.readyState = FakeWebSocket.OPEN;
      this.fire("open", {});
    });
  }

  /** The server sends one frame (an object is sent as JSON, a string as is). */
  serverSend(frame: unknown): void {
    act(() => {
      this.fire("message", { data: typeof frame === "string" ? frame : JSON.stringify(frame) });
    });
  }

  /** The server (or the network) closes the connection. */
  serverClose(code = 1006): void {
    act(() => {
      this.readyState = FakeWebSocket.CLOSED;
      this.fire("close", { code, reason: "", wasClean: code !== 1006 });
    });
  }

  /** The frames the client sent, parsed. */
  frames(): Array<Record<string, unknown>> {
    return this.sent.map((raw) => JSON.parse(raw) as Record<string, unknown>);
  }

  /** Parsed frames of one type. */
  framesOf(type: string): Array<Record<string, unknown>> {
    return this.frames().filter((f) => f.type === type);
  }

  private fire(type: string, event: unknown): void {
    const handler = (this as unknown as Record<string, Listener | null>)[`on${type}`];
    handler?.(event);
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }
}

/** Install the fake as the global WebSocket (setup.ts does this before every test). */
export function installFakeWebSocket(): void {
  FakeWebSocket.reset();
  globalThis.WebSocket = FakeWebSocket as unknown as typeof WebSocket;
}
