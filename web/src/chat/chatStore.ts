// The live chat's state, fed by the watch page's socket: history and new messages, your own
// messages pending until the server acknowledges them, deletions, slow mode, your role in the
// channel, the viewer count and the stream's state. A plain store (not React state) so frames that
// arrive before a component mounts are not lost; components read it with useSyncExternalStore.
import { MESSAGE_MAX, NONCE_MAX, type ArchiveStatusFrame, type ChatMessageFrame, type ChatRole, type ChatUser, type ErrorFrame, type ServerFrame, type StreamInfo, type TipFrame } from "../realtime/protocol";
import type { ConnectionState, StreamSocket } from "../realtime/socket";

/** How many messages a page keeps; older ones scroll away for good. */
export const MAX_MESSAGES = 250;

export interface ChatLine {
  kind: "message";
  /** Stable React key: the message id, or the nonce while it is pending. */
  key: string;
  /** The server's id; null until the message is acknowledged. */
  id: string | null;
  nonce: string | null;
  user: ChatUser;
  text: string;
  sentAt: string;
  pending: boolean;
}

/** A tip in the chat: shown highlighted, never pending, never anyone's draft. */
export interface TipLine {
  kind: "tip";
  /** The frame's id ("tip:<transaction_id>"). */
  key: string;
  id: string;
  nonce: null;
  pending: false;
  transactionId: string;
  /** null once the sender's account is gone. */
  user: ChatUser | null;
  /** Minor units of `currency`. */
  amount: number;
  currency: string;
  message: string | null;
  sentAt: string;
}

/** One row of the chat: a message or a tip. */
export type ChatEntry = ChatLine | TipLine;

export type LocalErrorCode = "NOT_CONNECTED" | "CONNECTION_LOST" | "MODERATION_FAILED";

export interface ChatError {
  /** A server code (RATE_LIMITED, SLOW_MODE, BANNED, …) or a LocalErrorCode. */
  code: string;
  /** The server's (or the app's) own message, used for codes without a friendlier one. */
  message: string;
  /** When a RATE_LIMITED or SLOW_MODE wait is over (ms since the epoch). */
  retryAt: number | null;
  /** The end of a timeout (ISO 8601); null for a permanent ban or other codes. */
  until: string | null;
  /** Text to offer back to the composer (a message that did not go out). */
  draft: string | null;
  /** Grows with every error, so the same error twice still counts as new. */
  seq: number;
}

export interface ChatState {
  connection: ConnectionState;
  /** A hello arrived on the current connection (history is loaded). */
  ready: boolean;
  messages: ChatEntry[];
  slowModeSeconds: number;
  viewerCount: number | null;
  stream: StreamInfo | null;
  /** Who the socket is signed in as, and their role in this channel (after auth.ok). */
  me: ChatUser | null;
  role: ChatRole | null;
  error: ChatError | null;
  /** The server said there is no such stream. */
  notFound: boolean;
}

export const initialChatState: ChatState = {
  connection: "connecting",
  ready: false,
  messages: [],
  slowModeSeconds: 0,
  viewerCount: null,
  stream: null,
  me: null,
  role: null,
  error: null,
  notFound: false,
};

function line(frame: ChatMessageFrame): ChatLine {
  return { kind: "message", key: frame.id, id: frame.id, nonce: null, user: frame.user, text: frame.text, sentAt: frame.sent_at, pending: false };
}

function tipLine(frame: TipFrame): TipLine {
  return {
    kind: "tip",
    key: frame.id,
    id: frame.id,
    nonce: null,
    pending: false,
    transactionId: frame.transaction_id,
    user: frame.user,
    amount: frame.amount,
    currency: frame.currency,
    message: frame.message,
    sentAt: frame.sent_at,
  };
}

function entry(frame: ChatMessageFrame | TipFrame): ChatEntry {
  return frame.type === "tip" ? tipLine(frame) : line(frame);
}

/** A message of ours still waiting for its ack. */
function isPending(m: ChatEntry): m is ChatLine {
  return m.kind === "message" && m.pending;
}

function trimTo<T>(items: T[]): T[] {
  return items.length > MAX_MESSAGES ? items.slice(items.length - MAX_MESSAGES) : items;
}

/** Characters as the server counts them (code points, not UTF-16 units). */
export function messageLength(text: string): number {
  return [...text.trim()].length;
}

let nonceCounter = 0;

export function makeNonce(): string {
  const random = globalThis.crypto?.randomUUID?.() ?? `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  nonceCounter += 1;
  return `${random}-${nonceCounter}`.slice(0, NONCE_MAX);
}

type StreamListener = (info: StreamInfo, initial: boolean) => void;
type ArchiveListener = (frame: ArchiveStatusFrame) => void;
type TipListener = (frame: TipFrame) => void;

export class ChatStore {
  private state: ChatState = initialChatState;
  private readonly listeners = new Set<() => void>();
  private readonly streamListeners = new Set<StreamListener>();
  private readonly archiveListeners = new Set<ArchiveListener>();
  private readonly tipListeners = new Set<TipListener>();
  private socket: StreamSocket | null = null;
  private errorSeq = 0;

  getState = (): ChatState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Hear about the stream's state: from hello (initial) and from every stream.status frame. */
  onStream(listener: StreamListener): () => void {
    this.streamListeners.add(listener);
    return () => this.streamListeners.delete(listener);
  }

  /** Hear about archive.status frames: an archive of this stream is being processed, is ready, or failed. */
  onArchive(listener: ArchiveListener): () => void {
    this.archiveListeners.add(listener);
    return () => this.archiveListeners.delete(listener);
  }

  /** Hear about tips as they arrive (not those in the history a hello brings: they were counted before). */
  onTip(listener: TipListener): () => void {
    this.tipListeners.add(listener);
    return () => this.tipListeners.delete(listener);
  }

  /** Feed this store from `socket` (starting over); returns the detach function. */
  attach(socket: StreamSocket): () => void {
    this.socket = socket;
    this.set({ ...initialChatState, connection: socket.state });
    const offFrame = socket.on("frame", (frame) => this.apply(frame));
    const offState = socket.on("state", (connection) => this.onConnection(connection));
    return () => {
      offFrame();
      offState();
      if (this.socket === socket) this.socket = null;
    };
  }

  /**
   * Send a chat message. It shows at once as pending and is confirmed by chat.ack (or taken back
   * with an inline error). Returns false when it did not go out (the error says why).
   */
  send(text: string, author: ChatUser): boolean {
    const trimmed = text.trim();
    if (!trimmed) return this.fail("EMPTY_MESSAGE", "Type a message first.", text);
    if (messageLength(trimmed) > MESSAGE_MAX) return this.fail("MESSAGE_TOO_LONG", `Keep it to ${MESSAGE_MAX} characters.`, text);
    const nonce = makeNonce();
    if (!this.socket?.send({ type: "chat.send", text: trimmed, nonce })) {
      return this.fail("NOT_CONNECTED", "Chat is not connected right now. Try again in a moment.", text);
    }
    const pending: ChatLine = {
      kind: "message",
      key: `pending:${nonce}`,
      id: null,
      nonce,
      user: this.state.me ?? author,
      text: trimmed,
      sentAt: new Date().toISOString(),
      pending: true,
    };
    this.set({ ...this.state, messages: trimTo([...this.state.messages, pending]), error: null });
    return true;
  }

  /** Take a message out of the list (a moderator deleted it; the server's chat.deleted follows). */
  removeMessage(id: string): void {
    this.set({ ...this.state, messages: this.state.messages.filter((m) => m.id !== id) });
  }

  setSlowMode(seconds: number): void {
    this.set({ ...this.state, slowModeSeconds: seconds });
  }

  /** Show an error that did not come from the socket (e.g. a moderation call failed). */
  showError(code: string, message: string): void {
    this.fail(code, message, null);
  }

  clearError(): void {
    if (this.state.error) this.set({ ...this.state, error: null });
  }

  // ---------- frames ----------

  private apply(frame: ServerFrame): void {
    const s = this.state;
    switch (frame.type) {
      case "hello": {
        // The server's history is the truth after a (re)connect; unconfirmed messages may be lost.
        const history = frame.history.map(entry);
        const lost = s.messages.filter(isPending).filter(
          (m) => !history.some((h) => h.kind === "message" && h.user.user_id === m.user.user_id && h.text === m.text),
        );
        const error = lost.length
          ? this.error("CONNECTION_LOST", "The connection dropped before your message was sent. Try again.", null, lost[0]!.text)
          : s.error;
        this.set({
          ...s,
          ready: true,
          messages: trimTo(history),
          slowModeSeconds: frame.chat.slow_mode_seconds,
          viewerCount: frame.viewer_count,
          stream: frame.stream,
          error,
        });
        this.emitStream(frame.stream, true);
        return;
      }
      case "auth.ok":
        this.set({ ...s, me: frame.user, role: frame.role });
        return;
      case "chat.message": {
        if (s.messages.some((m) => m.id === frame.id)) return;
        // Our own message may come back before its ack: it takes the pending line's place.
        const mine = s.messages.findIndex((m) => isPending(m) && m.user.user_id === frame.user.user_id && m.text === frame.text);
        if (mine >= 0) {
          const messages = [...s.messages];
          messages[mine] = { ...line(frame), key: messages[mine]!.key };
          this.set({ ...s, messages });
        } else {
          this.set({ ...s, messages: trimTo([...s.messages, line(frame)]) });
        }
        return;
      }
      case "tip": {
        if (s.messages.some((m) => m.id === frame.id)) return;
        this.set({ ...s, messages: trimTo([...s.messages, tipLine(frame)]) });
        for (const listener of [...this.tipListeners]) listener(frame);
        return;
      }
      case "chat.ack": {
        const index = s.messages.findIndex((m) => m.kind === "message" && m.nonce === frame.nonce);
        const acked = s.messages[index];
        if (index < 0 || acked?.kind !== "message") return;
        const messages = [...s.messages];
        if (messages.some((m) => m.id === frame.id && m.nonce !== frame.nonce)) {
          messages.splice(index, 1); // the broadcast copy is already there
        } else {
          messages[index] = { ...acked, id: frame.id, pending: false };
        }
        this.set({ ...s, messages });
        return;
      }
      case "chat.deleted":
        this.removeMessage(frame.id);
        return;
      case "chat.settings":
        this.setSlowMode(frame.slow_mode_seconds);
        return;
      case "viewers":
        this.set({ ...s, viewerCount: frame.count });
        return;
      case "stream.status": {
        const { type: _type, ...info } = frame;
        this.set({ ...s, stream: info });
        this.emitStream(info, false);
        return;
      }
      case "archive.status":
        for (const listener of [...this.archiveListeners]) listener(frame);
        return;
      case "error":
        this.onError(frame);
        return;
      case "pong":
        return;
    }
  }

  private onError(frame: ErrorFrame): void {
    const s = this.state;
    if (frame.code === "STREAM_NOT_FOUND") {
      this.set({ ...s, notFound: true });
      return;
    }
    // An auth failure without a chat.send behind it is the socket's business (it refreshes and retries).
    if (frame.code === "TOKEN_INVALID" && !frame.nonce) return;
    let draft: string | null = null;
    let messages = s.messages;
    if (frame.nonce) {
      const failed = s.messages.filter(isPending).find((m) => m.nonce === frame.nonce);
      if (failed) {
        draft = failed.text;
        messages = s.messages.filter((m) => m !== failed);
      }
    }
    const retryAt = typeof frame.retry_after === "number" ? Date.now() + Math.max(0, frame.retry_after) * 1000 : null;
    const error = this.error(frame.code, frame.error, retryAt, draft, frame.until ?? null);
    this.set({ ...s, messages, error });
  }

  private onConnection(connection: ConnectionState): void {
    const s = this.state;
    if (connection === "open") {
      this.set({ ...s, connection, ready: false, me: null, role: null });
    } else {
      this.set({ ...s, connection });
    }
  }

  private error(code: string, message: string, retryAt: number | null, draft: string | null, until: string | null = null): ChatError {
    this.errorSeq += 1;
    return { code, message, retryAt, until, draft, seq: this.errorSeq };
  }

  private fail(code: string, message: string, draft: string | null): false {
    this.set({ ...this.state, error: this.error(code, message, null, draft) });
    return false;
  }

  private emitStream(info: StreamInfo, initial: boolean): void {
    for (const listener of [...this.streamListeners]) listener(info, initial);
  }

  private set(next: ChatState): void {
    this.state = next;
    for (const listener of [...this.listeners]) listener();
  }
}
