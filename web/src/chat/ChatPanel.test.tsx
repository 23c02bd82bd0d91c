import { QueryClientProvider } from "@tanstack/react-query";
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { MemoryRouter } from "react-router-dom";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createQueryClient } from "../App";
import { clearSession, resetSessionForTests, setAuthenticated } from "../auth/session";
import { aliceChat, bob, carol, chatMessage, hello } from "../test/chat";
import { FakeWebSocket } from "../test/fakeWebSocket";
import { alice, json, stubFetch, tokens } from "../test/http";
import { STREAM_ID } from "../test/streams";
import { ChatPanel } from "./ChatPanel";
import { useLiveChannel } from "./useChat";

function Harness({ creatorId }: { creatorId: string }) {
  const store = useLiveChannel(STREAM_ID);
  return <ChatPanel store={store} streamId={STREAM_ID} creatorId={creatorId} />;
}

/** The chat panel on its own page, its socket opened (and said hello) unless told otherwise. */
function renderChat({ creatorId = carol.user_id, greet = true, history = [] as ReturnType<typeof chatMessage>[], slow = 0 } = {}) {
  const view = render(
    <QueryClientProvider client={createQueryClient()}>
      <MemoryRouter initialEntries={[`/watch/${STREAM_ID}`]}>
        <Harness creatorId={creatorId} />
      </MemoryRouter>
    </QueryClientProvider>,
  );
  const ws = FakeWebSocket.latest();
  if (greet) {
    ws.serverOpen();
    ws.serverSend(hello({ history, chat: { slow_mode_seconds: slow } }));
  }
  return { ...view, ws };
}

const rows = () => screen.queryAllByTestId("chat-message");
const texts = () => rows().map((r) => within(r).getByTestId("chat-text").textContent);

function signIn(token = "token-1") {
  setAuthenticated(token, alice);
}

function authOk(ws: FakeWebSocket, role: "viewer" | "moderator" | "creator") {
  ws.serverSend({ type: "auth.ok", user: aliceChat, role });
}

describe("chat panel", () => {
  beforeEach(() => {
    resetSessionForTests();
    clearSession();
  });
  afterEach(() => {
    vi.useRealTimers();
    resetSessionForTests();
  });

  it("renders the history, then new messages, with the connection's state", () => {
    const { ws } = renderChat({ greet: false });
    expect(screen.getByTestId("chat-state")).toHaveAttribute("data-state", "connecting");
    expect(screen.getByText("Loading chat…")).toBeInTheDocument();
    ws.serverOpen();
    expect(screen.getByTestId("chat-state")).toHaveAttribute("data-state", "open");
    ws.serverSend(hello({ history: [chatMessage({ id: "h1", text: "first!" }), chatMessage({ id: "h2", user: carol, text: "hi all" })] }));
    expect(texts()).toEqual(["first!", "hi all"]);
    expect(rows().map((r) => r.getAttribute("data-message-id"))).toEqual(["h1", "h2"]);
    expect(within(rows()[0]!).getByTestId("chat-author")).toHaveTextContent("bob");
    expect(within(rows()[1]!).getByText("Creator")).toBeInTheDocument(); // carol made the stream

    ws.serverSend(chatMessage({ id: "m3", text: "third" }));
    expect(texts()).toEqual(["first!", "hi all", "third"]);
    expect(screen.getByRole("log", { name: "Chat messages" })).toHaveAttribute("aria-live", "polite");

    ws.serverClose(1012);
    expect(screen.getByTestId("chat-state")).toHaveAttribute("data-state", "reconnecting");
    expect(screen.getByTestId("chat-state")).toHaveTextContent("Reconnecting…");
  });

  it("renders markup in a message as literal text", () => {
    const evil = `<img src=x onerror=alert(1)><b>bold</b>`;
    renderChat({ history: [chatMessage({ id: "x1", text: evil, user: { user_id: "u-x", username: "<script>x</script>" } })] });
    const panel = screen.getByTestId("chat-panel");
    expect(panel.querySelector("img")).toBeNull();
    expect(panel.querySelector("b")).toBeNull();
    expect(panel.querySelector("script")).toBeNull();
    expect(within(rows()[0]!).getByTestId("chat-text").textContent).toBe(evil);
    expect(within(rows()[0]!).getByTestId("chat-author").textContent).toBe("<script>x</script>");
  });

  it("asks signed-out viewers to log in, with the composer disabled", () => {
    renderChat();
    expect(screen.getByTestId("chat-input")).toBeDisabled();
    expect(screen.getByTestId("chat-send")).toBeDisabled();
    expect(screen.getByRole("link", { name: "Log in to chat" })).toHaveAttribute(
      "href",
      `/login?next=${encodeURIComponent(`/watch/${STREAM_ID}`)}`,
    );
  });

  it("sends with Enter, shows the message as pending until chat.ack, and does not show it twice", async () => {
    signIn();
    const user = userEvent.setup();
    const { ws } = renderChat();
    authOk(ws, "viewer");
    const input = screen.getByTestId("chat-input");
    await user.type(input, "  hello there  {Enter}");
    const [sent] = ws.framesOf("chat.send");
    expect(sent).toMatchObject({ type: "chat.send", text: "hello there" });
    expect(typeof sent!.nonce).toBe("string");
    expect((sent!.nonce as string).length).toBeLessThanOrEqual(64);
    expect(input).toHaveValue("");
    expect(rows()).toHaveLength(1);
    expect(rows()[0]).toHaveAttribute("data-pending", "true");
    expect(rows()[0]).not.toHaveAttribute("data-message-id");
    expect(rows()[0]).toHaveTextContent("alice: hello there (sending…)");

    ws.serverSend({ type: "chat.ack", nonce: sent!.nonce, id: "m-1" });
    expect(rows()[0]).not.toHaveAttribute("data-pending");
    expect(rows()[0]).toHaveAttribute("data-message-id", "m-1");
    ws.serverSend(chatMessage({ id: "m-1", user: aliceChat, text: "hello there" }));
    expect(rows()).toHaveLength(1);

    // The broadcast may also come first: it takes the pending line's place, and the ack changes nothing.
    await user.type(input, "again{Enter}");
    const second = ws.framesOf("chat.send")[1]!;
    ws.serverSend(chatMessage({ id: "m-2", user: aliceChat, text: "again" }));
    ws.serverSend({ type: "chat.ack", nonce: second.nonce, id: "m-2" });
    expect(rows().map((r) => r.getAttribute("data-message-id"))).toEqual(["m-1", "m-2"]);

    // Shift+Enter is a new line, not a send.
    await user.type(input, "line one{Shift>}{Enter}{/Shift}line two");
    expect(ws.framesOf("chat.send")).toHaveLength(2);
    expect(input).toHaveValue("line one\nline two");
  });

  it("counts characters near the limit and will not send more than 500", async () => {
    signIn();
    const user = userEvent.setup();
    const { ws } = renderChat();
    const input = screen.getByTestId("chat-input");
    await user.click(input);
    await user.paste("a".repeat(399));
    expect(screen.queryByTestId("chat-counter")).not.toBeInTheDocument();
    await user.type(input, "a");
    expect(screen.getByTestId("chat-counter")).toHaveTextContent("400/500");
    await user.paste("b".repeat(101));
    expect(screen.getByTestId("chat-counter")).toHaveTextContent("501/500");
    expect(input).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByTestId("chat-send")).toBeDisabled();
    await user.type(input, "{Enter}");
    expect(ws.framesOf("chat.send")).toHaveLength(0);
  });

  it("shows refusals inline under the composer, with a countdown, and gives the text back", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    signIn();
    const { ws } = renderChat({ slow: 10 });
    const input = screen.getByTestId("chat-input");
    fireEvent.change(input, { target: { value: "too soon" } });
    fireEvent.keyDown(input, { key: "Enter" });
    const nonce = ws.framesOf("chat.send")[0]!.nonce;
    ws.serverSend({ type: "error", code: "SLOW_MODE", error: "Slow mode", nonce, retry_after: 3 });
    expect(screen.getByTestId("chat-error")).toHaveTextContent("Slow mode is on. You can send another message in 3 s.");
    expect(rows()).toHaveLength(0); // the pending line is taken back…
    expect(input).toHaveValue("too soon"); // …and its text is back in the composer
    expect(screen.getByTestId("chat-send")).toBeDisabled();
    await act(() => vi.advanceTimersByTimeAsync(1_100));
    expect(screen.getByTestId("chat-error")).toHaveTextContent("in 2 s");
    await act(() => vi.advanceTimersByTimeAsync(2_100));
    expect(screen.queryByTestId("chat-error")).not.toBeInTheDocument();
    expect(screen.getByTestId("chat-send")).toBeEnabled();

    ws.serverSend({ type: "error", code: "RATE_LIMITED", error: "Too fast", retry_after: 2 });
    expect(screen.getByTestId("chat-error")).toHaveTextContent("You are sending messages too fast. Try again in 2 s.");
    ws.serverSend({ type: "error", code: "MESSAGE_TOO_LONG", error: "Too long" });
    expect(screen.getByTestId("chat-error")).toHaveTextContent("That message is too long. Keep it to 500 characters.");
    ws.serverSend({ type: "error", code: "EMPTY_MESSAGE", error: "Empty" });
    expect(screen.getByTestId("chat-error")).toHaveTextContent("Type a message first.");
    ws.serverSend({ type: "error", code: "STREAM_ENDED", error: "Ended" });
    expect(screen.getByTestId("chat-error")).toHaveTextContent("This stream has ended, so its chat is read-only.");
    ws.serverSend({ type: "error", code: "BANNED", error: "Banned" });
    expect(screen.getByTestId("chat-error")).toHaveTextContent("You are banned from this chat.");
    expect(screen.getByTestId("chat-send")).toBeDisabled();
    ws.serverSend({ type: "error", code: "BANNED", error: "Timed out", until: "2030-01-02T21:35:00Z" });
    expect(screen.getByTestId("chat-error")).toHaveTextContent(/You are timed out in this chat until Jan 2, \d+:35 (AM|PM)\./);
    expect(screen.getByTestId("chat-error")).toHaveAttribute("role", "alert");
  });

  it("on UNAUTHENTICATED, refreshes the session once and signs the socket in again", async () => {
    signIn("expired");
    const { calls } = stubFetch({ "POST /api/auth/refresh": () => json(200, tokens("fresh")) });
    const user = userEvent.setup();
    const { ws } = renderChat();
    await user.type(screen.getByTestId("chat-input"), "still here?{Enter}");
    const nonce = ws.framesOf("chat.send")[0]!.nonce;
    ws.serverSend({ type: "error", code: "UNAUTHENTICATED", error: "Sign in to chat", nonce });
    expect(screen.getByTestId("chat-error")).toHaveTextContent("Your sign-in had expired");
    await waitFor(() => expect(ws.framesOf("auth").map((f) => f.token)).toEqual(["expired", "fresh"]));
    expect(calls.filter((r) => r.url.endsWith("/api/auth/refresh"))).toHaveLength(1);
    expect(screen.getByTestId("chat-input")).toHaveValue("still here?");
    // Try again: it goes out on the re-authenticated socket.
    await user.type(screen.getByTestId("chat-input"), "{Enter}");
    expect(ws.framesOf("chat.send")).toHaveLength(2);
  });

  it("removes deleted messages and shows slow mode from hello and chat.settings", () => {
    const { ws } = renderChat({ history: [chatMessage({ id: "d1", text: "spam" }), chatMessage({ id: "d2", text: "fine" })] });
    expect(screen.queryByTestId("slow-mode-indicator")).not.toBeInTheDocument();
    ws.serverSend({ type: "chat.deleted", id: "d1" });
    expect(texts()).toEqual(["fine"]);
    ws.serverSend({ type: "chat.settings", slow_mode_seconds: 30 });
    expect(screen.getByTestId("slow-mode-indicator")).toHaveTextContent("Slow mode: one message every 30 s");
    ws.serverSend({ type: "chat.settings", slow_mode_seconds: 0 });
    expect(screen.queryByTestId("slow-mode-indicator")).not.toBeInTheDocument();
  });

  it("shows slow mode that is already on when joining", () => {
    renderChat({ slow: 120 });
    expect(screen.getByTestId("slow-mode-indicator")).toHaveTextContent("Slow mode: one message every 2 min");
  });

  it("keeps following new messages at the bottom, pauses when scrolled up, and offers a jump back", async () => {
    const { ws } = renderChat({ history: [chatMessage({ id: "s1" })] });
    const list = screen.getByTestId("chat-list");
    let top = 0;
    let height = 1000;
    Object.defineProperty(list, "scrollHeight", { configurable: true, get: () => height });
    Object.defineProperty(list, "clientHeight", { configurable: true, get: () => 300 });
    Object.defineProperty(list, "scrollTop", { configurable: true, get: () => top, set: (v: number) => (top = v) });

    ws.serverSend(chatMessage({ id: "s2" }));
    expect(top).toBe(1000);

    top = 200; // the viewer scrolls up to read
    fireEvent.scroll(list);
    height = 1100;
    ws.serverSend(chatMessage({ id: "s3" }));
    ws.serverSend(chatMessage({ id: "s4" }));
    expect(top).toBe(200);
    const jump = screen.getByTestId("chat-jump");
    expect(jump).toHaveTextContent("2 new messages");

    await userEvent.setup().click(jump);
    expect(top).toBe(1100);
    expect(screen.queryByTestId("chat-jump")).not.toBeInTheDocument();
    height = 1200;
    ws.serverSend(chatMessage({ id: "s5" }));
    expect(top).toBe(1200);

    // Scrolling back down by hand also resumes following.
    top = 100;
    fireEvent.scroll(list);
    ws.serverSend(chatMessage({ id: "s6" }));
    expect(screen.getByTestId("chat-jump")).toHaveTextContent("1 new message");
    top = 900;
    fireEvent.scroll(list);
    expect(screen.queryByTestId("chat-jump")).not.toBeInTheDocument();
  });

  it("shows no moderation tools to viewers", () => {
    signIn();
    const { ws } = renderChat({ history: [chatMessage({ id: "v1" })] });
    authOk(ws, "viewer");
    expect(screen.queryByTestId("chat-mod-menu")).not.toBeInTheDocument();
    expect(screen.queryByTestId("chat-slow-mode")).not.toBeInTheDocument();
  });

  it("gives moderators a menu on other people's messages (not their own, not the creator's)", async () => {
    signIn();
    const deleted: string[] = [];
    const bans: unknown[] = [];
    const { calls } = stubFetch({
      [`DELETE /api/streams/${STREAM_ID}/chat/b1`]: () => {
        deleted.push("b1");
        return json(204, null);
      },
      [`POST /api/streams/${STREAM_ID}/bans`]: async (req) => {
        bans.push(await req.json());
        return json(201, { user_id: bob.user_id });
      },
    });
    const user = userEvent.setup();
    const { ws } = renderChat({
      history: [
        chatMessage({ id: "b1", user: bob, text: "buy followers" }),
        chatMessage({ id: "a1", user: aliceChat, text: "my own" }),
        chatMessage({ id: "c1", user: carol, text: "from the creator" }),
        chatMessage({ id: "b2", user: bob, text: "again" }),
      ],
    });
    expect(screen.queryByTestId("chat-mod-menu")).not.toBeInTheDocument(); // no role until auth.ok
    authOk(ws, "moderator");
    const withMenu = rows().filter((r) => within(r).queryByTestId("chat-mod-menu"));
    expect(withMenu.map((r) => r.getAttribute("data-message-id"))).toEqual(["b1", "b2"]);

    const menuButton = within(rows()[0]!).getByTestId("chat-mod-menu");
    expect(menuButton).toHaveAccessibleName("Moderate bob’s message");
    await user.click(menuButton);
    expect(menuButton).toHaveAttribute("aria-expanded", "true");
    expect(screen.getByRole("menuitem", { name: "Delete message" })).toHaveFocus();
    await user.keyboard("{ArrowDown}");
    expect(screen.getByRole("menuitem", { name: "Timeout 10 minutes" })).toHaveFocus();
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("menu")).not.toBeInTheDocument();
    expect(menuButton).toHaveFocus();

    await user.click(menuButton);
    await user.click(screen.getByTestId("chat-delete"));
    await waitFor(() => expect(texts()).toEqual(["my own", "from the creator", "again"]));
    expect(deleted).toEqual(["b1"]);

    await user.click(within(rows()[2]!).getByTestId("chat-mod-menu"));
    await user.click(screen.getByTestId("chat-timeout"));
    await waitFor(() => expect(screen.getByTestId("chat-notice")).toHaveTextContent("bob is timed out for 10 minutes."));
    await user.click(within(rows()[2]!).getByTestId("chat-mod-menu"));
    await user.click(screen.getByTestId("chat-ban"));
    await waitFor(() => expect(screen.getByTestId("chat-notice")).toHaveTextContent("bob is banned from this chat."));
    expect(bans).toEqual([{ user_id: bob.user_id, duration_seconds: 600 }, { user_id: bob.user_id }]);
    expect(calls.every((r) => r.headers.get("Authorization") === "Bearer token-1")).toBe(true);
  });

  it("lets the creator set slow mode and moderate, and shows failures inline", async () => {
    signIn();
    const settings: unknown[] = [];
    stubFetch({
      [`PUT /api/streams/${STREAM_ID}/chat-settings`]: async (req) => {
        const body = await req.json();
        settings.push(body);
        return json(200, body);
      },
      [`DELETE /api/streams/${STREAM_ID}/chat/b1`]: () =>
        json(403, { error: "Only moderators can do that", code: "FORBIDDEN", status: 403, request_id: "r" }),
    });
    const user = userEvent.setup();
    const { ws } = renderChat({ creatorId: alice.user_id, history: [chatMessage({ id: "b1" })] });
    authOk(ws, "creator");
    const select = screen.getByLabelText("Slow mode");
    expect(select).toHaveValue("0");
    expect(within(select).getAllByRole("option").map((o) => o.textContent)).toEqual(["Off", "3 s", "5 s", "10 s", "30 s", "1 min", "2 min"]);
    await user.selectOptions(select, "10");
    await waitFor(() => expect(screen.getByTestId("slow-mode-indicator")).toHaveTextContent("one message every 10 s"));
    expect(settings).toEqual([{ slow_mode_seconds: 10 }]);

    await user.click(screen.getByTestId("chat-mod-menu"));
    await user.click(screen.getByTestId("chat-delete"));
    expect(await screen.findByTestId("chat-error")).toHaveTextContent("Only moderators can do that");
    expect(rows()).toHaveLength(1);
  });

  it("is read-only once the stream ends", () => {
    signIn();
    const { ws } = renderChat();
    expect(screen.getByTestId("chat-input")).toBeEnabled();
    ws.serverSend({ type: "stream.status", status: "ended", media_state: "ended", title: "t", description: null });
    expect(screen.getByTestId("chat-input")).toBeDisabled();
    expect(screen.getByTestId("chat-input")).toHaveAttribute("placeholder", "Chat is read-only: the stream has ended");
  });
});
