// The live chat beside the player: messages (always rendered as text), a composer, inline errors,
// slow mode, the connection's state, and moderation tools for the creator and moderators.
import { useEffect, useId, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent, type ReactNode } from "react";
import { Link, useLocation } from "react-router-dom";
import { useSession } from "../auth/auth";
import { MESSAGE_MAX, type ChatUser } from "../realtime/protocol";
import type { ConnectionState } from "../realtime/socket";
import { formatMoney } from "../tips/money";
import { messageLength, type ChatError, type ChatLine, type ChatStore, type TipLine } from "./chatStore";
import { SLOW_MODE_CHOICES, TIMEOUT_SECONDS, useChatModeration } from "./moderation";
import { useChatState, useCountdown } from "./useChat";

/** The character counter shows from this many characters on. */
export const COUNTER_FROM = MESSAGE_MAX - 100;
/** How close to the bottom (px) still counts as "at the newest message". */
const BOTTOM_SLACK = 32;
const HUES = 8;

function hue(seed: string): number {
  let hash = 0;
  for (const ch of seed) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return hash % HUES;
}

const timeFormat = new Intl.DateTimeFormat("en-US", { hour: "numeric", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });

function formatUntil(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const sameDay = date.toDateString() === new Date().toDateString();
  return (sameDay ? timeFormat : dateTimeFormat).format(date);
}

export function formatSlowMode(seconds: number): string {
  return seconds >= 60 && seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

/** A person-friendly sentence for an error, or null when there is nothing (left) to say. */
export function chatErrorText(error: ChatError, secondsLeft: number): string | null {
  switch (error.code) {
    case "RATE_LIMITED":
      if (error.retryAt !== null && secondsLeft <= 0) return null;
      return `You are sending messages too fast. Try again in ${secondsLeft} s.`;
    case "SLOW_MODE":
      if (error.retryAt !== null && secondsLeft <= 0) return null;
      return `Slow mode is on. You can send another message in ${secondsLeft} s.`;
    case "BANNED":
      return error.until ? `You are timed out in this chat until ${formatUntil(error.until)}.` : "You are banned from this chat.";
    case "MESSAGE_TOO_LONG":
      return `That message is too long. Keep it to ${MESSAGE_MAX} characters.`;
    case "EMPTY_MESSAGE":
      return "Type a message first.";
    case "STREAM_ENDED":
      return "This stream has ended, so its chat is read-only.";
    case "UNAUTHENTICATED":
    case "TOKEN_INVALID":
      return "Your sign-in had expired. We are signing you back in: send your message again in a moment.";
    case "BAD_FRAME":
      return "The chat did not understand that. Reload the page if this keeps happening.";
    default:
      return error.message;
  }
}

const STATE_LABELS: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  closed: "Chat unavailable",
};

function ConnectionIndicator({ state }: { state: ConnectionState }) {
  return (
    <span className={`chat-state chat-state--${state}`} data-testid="chat-state" data-state={state} role="status">
      <span className="chat-state-dot" aria-hidden="true" />
      {STATE_LABELS[state]}
    </span>
  );
}

function SlowModeControl({ value, busy, onChange }: { value: number; busy: boolean; onChange: (seconds: number) => void }) {
  const id = useId();
  return (
    <div className="chat-slow-control">
      <label htmlFor={id}>Slow mode</label>
      <select
        id={id}
        className="chat-select"
        value={value}
        disabled={busy}
        onChange={(event) => onChange(Number(event.target.value))}
        data-testid="chat-slow-mode"
      >
        {(SLOW_MODE_CHOICES as readonly number[]).includes(value) ? null : <option value={value}>{formatSlowMode(value)}</option>}
        {SLOW_MODE_CHOICES.map((seconds) => (
          <option key={seconds} value={seconds}>
            {seconds === 0 ? "Off" : formatSlowMode(seconds)}
          </option>
        ))}
      </select>
    </div>
  );
}

function ModMenu({
  line,
  onDelete,
  onTimeout,
  onBan,
}: {
  line: ChatLine;
  onDelete: () => void;
  onTimeout: () => void;
  onBan: () => void;
}) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const menuId = useId();

  useEffect(() => {
    if (!open) return;
    root.current?.querySelector<HTMLButtonElement>("[role=menuitem]")?.focus();
    const onPointer = (event: PointerEvent) => {
      if (!root.current?.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener("pointerdown", onPointer);
    return () => document.removeEventListener("pointerdown", onPointer);
  }, [open]);

  const close = () => {
    setOpen(false);
    button.current?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLUListElement>) => {
    const items = [...(root.current?.querySelectorAll<HTMLButtonElement>("[role=menuitem]") ?? [])];
    const at = items.indexOf(document.activeElement as HTMLButtonElement);
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      items[(at + step + items.length) % items.length]?.focus();
    } else if (event.key === "Tab") {
      setOpen(false);
    }
  };

  const act = (action: () => void) => () => {
    action();
    close();
  };

  return (
    <div className="chat-mod" ref={root}>
      <button
        ref={button}
        type="button"
        className="chat-mod-button"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? menuId : undefined}
        aria-label={`Moderate ${line.user.username}’s message`}
        onClick={() => setOpen((v) => !v)}
        data-testid="chat-mod-menu"
      >
        <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
          <circle cx="3" cy="8" r="1.5" fill="currentColor" />
          <circle cx="8" cy="8" r="1.5" fill="currentColor" />
          <circle cx="13" cy="8" r="1.5" fill="currentColor" />
        </svg>
      </button>
      {open ? (
        <ul className="chat-mod-list" role="menu" id={menuId} aria-label={`Moderate ${line.user.username}`} onKeyDown={onKeyDown}>
          <li role="none">
            <button type="button" role="menuitem" className="chat-mod-item" onClick={act(onDelete)} data-testid="chat-delete">
              Delete message
            </button>
          </li>
          <li role="none">
            <button type="button" role="menuitem" className="chat-mod-item" onClick={act(onTimeout)} data-testid="chat-timeout">
              Timeout 10 minutes
            </button>
          </li>
          <li role="none">
            <button
              type="button"
              role="menuitem"
              className="chat-mod-item chat-mod-item--danger"
              onClick={act(onBan)}
              data-testid="chat-ban"
            >
              Ban {line.user.username}
            </button>
          </li>
        </ul>
      ) : null}
    </div>
  );
}

function MessageRow({
  line,
  creatorId,
  moderate,
}: {
  line: ChatLine;
  creatorId: string | null;
  moderate: ((line: ChatLine) => ReactNode) | null;
}) {
  const isCreator = creatorId !== null && line.user.user_id === creatorId;
  return (
    <li
      className={`chat-msg${line.pending ? " chat-msg--pending" : ""}`}
      data-testid="chat-message"
      data-message-id={line.id ?? undefined}
      data-pending={line.pending ? "true" : undefined}
    >
      <p className="chat-msg-body">
        {isCreator ? <span className="chat-role">Creator</span> : null}
        <span className={`chat-author chat-author--hue-${hue(line.user.username)}`} data-testid="chat-author">
          {line.user.username}
        </span>
        <span className="chat-sep" aria-hidden="true">
          :{" "}
        </span>
        {/* Text, never markup: React escapes it. */}
        <span className="chat-text" data-testid="chat-text">
          {line.text}
        </span>
        {line.pending ? <span className="chat-pending"> (sending…)</span> : null}
      </p>
      {moderate ? moderate(line) : null}
    </li>
  );
}

/** A tip: highlighted, "@alice tipped ¥500", with its message (text, never markup). */
function TipRow({ tip }: { tip: TipLine }) {
  const who = tip.user ? `@${tip.user.username}` : "Someone";
  return (
    <li className="chat-msg chat-tip" data-testid="chat-tip" data-message-id={tip.id} data-transaction-id={tip.transactionId}>
      <p className="chat-msg-body">
        <span className="chat-tip-badge" aria-hidden="true">
          ★
        </span>
        <span className="chat-tip-head" data-testid="chat-tip-head">
          <span className={`chat-author chat-author--hue-${hue(tip.user?.username ?? "")}`}>{who}</span> tipped{" "}
          <strong className="chat-tip-amount">{formatMoney(tip.amount, tip.currency)}</strong>
        </span>
        {tip.message ? (
          <span className="chat-tip-message" data-testid="chat-tip-message">
            {tip.message}
          </span>
        ) : null}
      </p>
    </li>
  );
}

function Composer({
  store,
  me,
  readOnly,
  connected,
  error,
  onSent,
}: {
  store: ChatStore;
  me: ChatUser | null;
  readOnly: boolean;
  connected: boolean;
  error: ChatError | null;
  onSent: () => void;
}) {
  const session = useSession();
  const location = useLocation();
  const inputId = useId();
  const errorId = useId();
  const counterId = useId();
  const [text, setText] = useState("");
  const secondsLeft = useCountdown(error?.retryAt ?? null);
  const errorText = error ? chatErrorText(error, secondsLeft) : null;

  // A message that did not go out comes back to an empty composer, ready to try again.
  const seq = error?.seq ?? 0;
  const draft = error?.draft ?? null;
  useEffect(() => {
    if (draft) setText((current) => (current === "" ? draft : current));
  }, [seq, draft]);

  const signedIn = session.status === "authenticated";
  const author = me ?? (session.user ? { user_id: session.user.user_id, username: session.user.username } : null);
  const length = messageLength(text);
  const tooLong = length > MESSAGE_MAX;
  const waiting = secondsLeft > 0 && (error?.code === "RATE_LIMITED" || error?.code === "SLOW_MODE");
  const banned = error?.code === "BANNED";
  const canType = signedIn && !readOnly;
  const canSend = canType && connected && !tooLong && length > 0 && !waiting && !banned && author !== null;

  const send = () => {
    if (!canSend || !author) return;
    if (store.send(text, author)) {
      setText("");
      onSent();
    }
  };

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    send();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  };

  const describedBy = [errorText ? errorId : null, length >= COUNTER_FROM ? counterId : null].filter(Boolean).join(" ");
  const placeholder = readOnly
    ? "Chat is read-only: the stream has ended"
    : signedIn
      ? "Send a message"
      : session.status === "loading"
        ? "Loading…"
        : "Log in to chat";

  return (
    <form className="chat-composer" onSubmit={onSubmit} noValidate aria-label="Send a chat message">
      <label htmlFor={inputId} className="visually-hidden">
        Chat message
      </label>
      <textarea
        id={inputId}
        className={`chat-input${tooLong ? " chat-input--invalid" : ""}`}
        rows={2}
        value={text}
        placeholder={placeholder}
        disabled={!canType}
        aria-invalid={tooLong || undefined}
        aria-describedby={describedBy || undefined}
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
        data-testid="chat-input"
      />
      <div className="chat-composer-row">
        {signedIn || session.status === "loading" ? (
          <span className="chat-hint muted">{readOnly ? "" : "Enter to send · Shift+Enter for a new line"}</span>
        ) : (
          <Link to={`/login?next=${encodeURIComponent(location.pathname)}`} className="chat-login" data-testid="chat-login">
            Log in to chat
          </Link>
        )}
        {length >= COUNTER_FROM ? (
          <span
            id={counterId}
            className={`chat-counter${tooLong ? " chat-counter--over" : ""}`}
            aria-live="polite"
            data-testid="chat-counter"
          >
            {length}/{MESSAGE_MAX}
          </span>
        ) : null}
        <button type="submit" className="btn btn--primary btn--sm" disabled={!canSend} data-testid="chat-send">
          Chat
        </button>
      </div>
      {errorText ? (
        <p id={errorId} className="chat-error" role="alert" data-testid="chat-error" data-code={error?.code}>
          {errorText}
        </p>
      ) : null}
    </form>
  );
}

export function ChatPanel({ store, streamId, creatorId = null }: { store: ChatStore; streamId: string; creatorId?: string | null }) {
  const state = useChatState(store);
  const session = useSession();
  const moderation = useChatModeration(streamId, store);
  const [notice, setNotice] = useState<string | null>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const lastKey = useRef<string | null>(null);
  const [unseen, setUnseen] = useState(0);

  const { messages, role, connection } = state;
  const newest = messages.at(-1)?.key ?? null;

  // Follow the newest message while the viewer is at the bottom; otherwise count what they miss.
  useLayoutEffect(() => {
    const el = scroller.current;
    const previous = lastKey.current;
    lastKey.current = newest;
    if (!el || newest === null || newest === previous) return;
    if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    } else {
      setUnseen((n) => n + 1);
    }
  }, [newest]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    const bottom = el.scrollHeight - el.scrollTop - el.clientHeight <= BOTTOM_SLACK;
    atBottom.current = bottom;
    if (bottom) setUnseen(0);
  };

  const jumpToNewest = () => {
    const el = scroller.current;
    atBottom.current = true;
    setUnseen(0);
    if (el) el.scrollTop = el.scrollHeight;
  };

  const me = state.me ?? (session.user ? { user_id: session.user.user_id, username: session.user.username } : null);
  const signedIn = session.status === "authenticated";
  const isMod = signedIn && (role === "creator" || role === "moderator");
  const readOnly = state.stream?.status === "ended";

  useEffect(() => {
    if (!notice) return;
    const timer = setTimeout(() => setNotice(null), 6_000);
    return () => clearTimeout(timer);
  }, [notice]);

  const moderate = isMod
    ? (line: ChatLine): ReactNode => {
        if (line.pending || line.id === null) return null;
        if (me && line.user.user_id === me.user_id) return null;
        // Nobody moderates the creator in their own chat.
        if (creatorId !== null && line.user.user_id === creatorId) return null;
        const id = line.id;
        const name = line.user.username;
        return (
          <ModMenu
            line={line}
            onDelete={() => moderation.deleteMessage.mutate(id)}
            onTimeout={() =>
              moderation.ban.mutate(
                { userId: line.user.user_id, durationSeconds: TIMEOUT_SECONDS },
                { onSuccess: () => setNotice(`${name} is timed out for 10 minutes.`) },
              )
            }
            onBan={() =>
              moderation.ban.mutate({ userId: line.user.user_id }, { onSuccess: () => setNotice(`${name} is banned from this chat.`) })
            }
          />
        );
      }
    : null;

  return (
    <section className="chat" aria-labelledby="chat-title" data-testid="chat-panel" data-role={role ?? "none"}>
      <header className="chat-head">
        <h2 id="chat-title" className="chat-title">
          Live chat
        </h2>
        <ConnectionIndicator state={state.notFound ? "closed" : connection} />
      </header>
      {isMod || state.slowModeSeconds > 0 ? (
        <div className="chat-bar">
          {state.slowModeSeconds > 0 ? (
            <p className="chat-slow" data-testid="slow-mode-indicator">
              Slow mode: one message every {formatSlowMode(state.slowModeSeconds)}
            </p>
          ) : (
            <span />
          )}
          {isMod ? (
            <SlowModeControl
              value={state.slowModeSeconds}
              busy={moderation.slowMode.isPending}
              onChange={(seconds) => moderation.slowMode.mutate(seconds)}
            />
          ) : null}
        </div>
      ) : null}
      <div className="chat-body">
        <div
          className="chat-scroll"
          ref={scroller}
          onScroll={onScroll}
          role="log"
          aria-live="polite"
          aria-relevant="additions"
          aria-label="Chat messages"
          tabIndex={0}
          data-testid="chat-list"
        >
          {messages.length ? (
            <ol className="chat-list">
              {messages.map((line) =>
                line.kind === "tip" ? (
                  <TipRow key={line.key} tip={line} />
                ) : (
                  <MessageRow key={line.key} line={line} creatorId={creatorId} moderate={moderate} />
                ),
              )}
            </ol>
          ) : (
            <p className="chat-empty muted">{state.ready ? "No messages yet. Say hello!" : "Loading chat…"}</p>
          )}
        </div>
        {unseen > 0 ? (
          <button type="button" className="chat-jump" onClick={jumpToNewest} data-testid="chat-jump">
            {unseen === 1 ? "1 new message" : `${unseen} new messages`} ↓
          </button>
        ) : null}
      </div>
      {notice ? (
        <p className="chat-notice" role="status" data-testid="chat-notice">
          {notice}
        </p>
      ) : null}
      <Composer
        store={store}
        me={me}
        readOnly={readOnly}
        connected={connection === "open"}
        error={state.error}
        onSent={jumpToNewest}
      />
    </section>
  );
}
