import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Stream } from "../api/types";
import { clearSession, resetSessionForTests, setAuthenticated } from "../auth/session";
import { aliceChat, chatMessage, hello } from "../test/chat";
import { FakeWebSocket } from "../test/fakeWebSocket";
import { alice, errorBody, json, stubFetch } from "../test/http";
import { renderApp } from "../test/render";
import { makeHealth, makeStream, page, STREAM_ID } from "../test/streams";
import { emptyEarnings, makePayouts } from "../test/tips";

const KEY = { stream_key: "live_sk_first_0123456789", rtmp_url: "rtmp://localhost/live", created_at: "2026-03-01T00:00:00Z" };

/** A tiny fake of the streams API: one creator, at most one live stream. */
function fakeServer(initial: Stream | null = null) {
  const state = { live: initial, key: KEY, bodies: [] as unknown[] };
  const routes = {
    "GET /api/streams": (req: Request) => {
      const q = new URL(req.url).searchParams;
      expect(q.get("status")).toBe("live");
      expect(q.get("user_id")).toBe(alice.user_id);
      return json(200, page(state.live ? [state.live] : []));
    },
    "GET /api/users/me/stream-key": () => json(200, state.key),
    "POST /api/users/me/stream-key/rotate": () => {
      state.key = { ...state.key, stream_key: "live_sk_rotated_9876543210" };
      return json(200, state.key);
    },
    "POST /api/streams": async (req: Request) => {
      if (state.live) return errorBody(409, "STREAM_ALREADY_LIVE", "You are already live");
      const body = (await req.json()) as { title: string; description?: string };
      state.bodies.push(body);
      state.live = makeStream({ title: body.title, description: body.description ?? null, media_state: "waiting" });
      return json(201, {
        ...state.live,
        ingest: { rtmp_url: state.key.rtmp_url, stream_key: state.key.stream_key },
        playback: { hls_url: state.live.hls_url },
      });
    },
    [`GET /api/streams/${STREAM_ID}/health`]: () =>
      json(200, state.live?.media_state === "live" ? makeHealth() : makeHealth({ media_state: "waiting", ingest: null, transcoder: null, renditions: [] })),
    [`PATCH /api/streams/${STREAM_ID}`]: async (req: Request) => {
      const body = (await req.json()) as Partial<Stream>;
      state.bodies.push(body);
      state.live = { ...state.live!, ...body };
      return json(200, state.live);
    },
    // The archives card: none yet.
    "GET /api/archives": () => json(200, { items: [], next_cursor: null }),
    // Tips: test payments, nothing received yet.
    "GET /api/users/me/payouts": () => json(200, makePayouts({ provider: "test", status: "not_needed", can_receive_tips: true })),
    "GET /api/users/me/earnings": () => json(200, emptyEarnings()),
    // The chat cards shown while live: nobody to list.
    [`GET /api/streams/${STREAM_ID}/moderators`]: () => json(200, { items: [] }),
    [`GET /api/streams/${STREAM_ID}/bans`]: () => json(200, { items: [] }),
    [`DELETE /api/streams/${STREAM_ID}/chat/spam-1`]: () => json(204, null),
    [`PUT /api/streams/${STREAM_ID}/end`]: () => {
      const ended = makeStream({ ...state.live!, status: "ended", media_state: "ended", ended_at: "2026-03-04T21:05:00Z", hls_url: null, thumbnail_url: null });
      state.live = null;
      return json(200, ended);
    },
  };
  return { state, ...stubFetch(routes) };
}

describe("creator dashboard", () => {
  beforeEach(() => {
    resetSessionForTests();
    setAuthenticated("token-a", alice);
  });
  afterEach(() => resetSessionForTests());

  it("offers a Go live form when nothing is live, then shows the stream waiting for the encoder", async () => {
    const { calls, state } = fakeServer(null);
    const user = userEvent.setup();
    renderApp("/dashboard");

    const form = await screen.findByTestId("go-live-form");
    expect(screen.queryByTestId("live-panel")).not.toBeInTheDocument();
    // Nothing typed: the form says so and sends nothing.
    await user.click(within(form).getByRole("button", { name: "Go live" }));
    expect(await within(form).findByText("Give your stream a title.")).toBeInTheDocument();
    expect(calls.some((c) => c.method === "POST")).toBe(false);

    await user.type(within(form).getByLabelText("Title"), "  Late-night synth build  ");
    await user.type(within(form).getByLabelText("Description"), "Soldering.");
    await user.click(within(form).getByRole("button", { name: "Go live" }));

    const panel = await screen.findByTestId("live-panel");
    expect(within(panel).getByTestId("live-title")).toHaveTextContent("Late-night synth build");
    expect(within(panel).getByTestId("media-state")).toHaveTextContent("Waiting for encoder");
    expect(within(panel).getByTestId("preview-waiting")).toBeInTheDocument();
    expect(screen.queryByTestId("go-live-form")).not.toBeInTheDocument();
    const post = calls.find((c) => c.method === "POST" && c.url.endsWith("/api/streams"))!;
    expect(state.bodies).toEqual([{ title: "Late-night synth build", description: "Soldering." }]);
    expect(post.headers.get("Authorization")).toBe("Bearer token-a");
    await waitFor(() => expect(within(panel).getByText("No encoder connected right now.")).toBeInTheDocument());
  });

  it("shows health numbers while live, and goes back to the form after ending the stream", async () => {
    fakeServer(makeStream({ title: "Live synth" }));
    const user = userEvent.setup();
    renderApp("/dashboard");

    const panel = await screen.findByTestId("live-panel");
    expect(within(panel).getByTestId("media-state")).toHaveTextContent("Live");
    expect(await within(panel).findByTestId("health-bitrate")).toHaveTextContent("4.5 Mbps");
    expect(within(panel).getByTestId("health-fps")).toHaveTextContent("30 fps");
    expect(within(panel).getByTestId("health-keyframe")).toHaveTextContent("2.0 s");
    expect(within(panel).getByTestId("health-codecs")).toHaveTextContent("h264 / aac");
    expect(within(panel).getByTestId("health-speed")).toHaveTextContent("1.01×");
    expect(within(panel).getByTestId("health-renditions")).toHaveTextContent("720p480p360p");
    expect(within(panel).getByTestId("bitrate-graph")).toBeInTheDocument();
    expect(within(panel).getByRole("link", { name: "Open watch page" })).toHaveAttribute("href", `/watch/${STREAM_ID}`);

    // The chat cards sit next to the live panel, with nothing to list yet and no errors.
    expect(screen.getByRole("heading", { name: "Moderators" })).toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "Banned and timed-out viewers" })).toBeInTheDocument();
    expect(await within(screen.getByTestId("moderators")).findByText("No moderators yet.")).toBeInTheDocument();
    expect(await within(screen.getByTestId("bans")).findByText("Nobody is banned.")).toBeInTheDocument();
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();

    // Ending asks first; "Keep streaming" changes nothing.
    await user.click(within(panel).getByTestId("end-stream"));
    await user.click(within(panel).getByRole("button", { name: "Keep streaming" }));
    expect(within(panel).queryByTestId("end-confirm")).not.toBeInTheDocument();
    await user.click(within(panel).getByTestId("end-stream"));
    await user.click(within(panel).getByRole("button", { name: "Yes, end stream" }));

    expect(await screen.findByTestId("go-live-form")).toBeInTheDocument();
    expect(screen.queryByTestId("live-panel")).not.toBeInTheDocument();
    expect(screen.getByTestId("stream-ended-notice")).toHaveTextContent("Live synth");
    expect(screen.queryByRole("heading", { name: "Moderators" })).not.toBeInTheDocument();
    expect(screen.queryByRole("heading", { name: "Banned and timed-out viewers" })).not.toBeInTheDocument();
  });

  it("shows the live viewer count and the stream's chat, which the creator moderates from here", async () => {
    const { calls } = fakeServer(makeStream({ title: "Live synth", viewer_count: 12 }));
    const user = userEvent.setup();
    renderApp("/dashboard");

    const panel = await screen.findByTestId("live-panel");
    // Until the socket says hello, the count the API gave.
    expect(within(panel).getByTestId("dash-viewer-count")).toHaveTextContent("12 viewers");
    const ws = FakeWebSocket.latest();
    expect(ws.url).toBe(`ws://localhost:3000/ws/streams/${STREAM_ID}`);
    ws.serverOpen();
    expect(ws.framesOf("auth")).toEqual([{ type: "auth", token: "token-a" }]);
    ws.serverSend(hello({ viewer_count: 40, history: [chatMessage({ id: "spam-1", text: "buy followers" })] }));
    ws.serverSend({ type: "auth.ok", user: aliceChat, role: "creator" });
    expect(within(panel).getByTestId("dash-viewer-count")).toHaveTextContent("40 viewers");
    ws.serverSend({ type: "viewers", count: 41 });
    expect(within(panel).getByTestId("dash-viewer-count")).toHaveTextContent("41 viewers");

    // The same chat panel as the watch page, beside the preview, with its moderation menu.
    const chat = within(panel).getByTestId("chat-panel");
    expect(chat).toHaveAttribute("data-role", "creator");
    expect(within(chat).getByTestId("chat-message")).toHaveTextContent("bob: buy followers");
    await user.click(within(chat).getByTestId("chat-mod-menu"));
    await user.click(within(chat).getByTestId("chat-delete"));
    await waitFor(() => expect(within(chat).queryByTestId("chat-message")).not.toBeInTheDocument());
    const del = calls.find((c) => c.method === "DELETE")!;
    expect(new URL(del.url).pathname).toBe(`/api/streams/${STREAM_ID}/chat/spam-1`);
    expect(del.headers.get("Authorization")).toBe("Bearer token-a");

    // Creators chat from the dashboard too.
    await user.type(within(chat).getByTestId("chat-input"), "thanks for coming{Enter}");
    expect(ws.framesOf("chat.send")).toMatchObject([{ type: "chat.send", text: "thanks for coming" }]);
  });

  it("closes the stream's socket when the stream ends", async () => {
    fakeServer(makeStream());
    const user = userEvent.setup();
    renderApp("/dashboard");
    const panel = await screen.findByTestId("live-panel");
    const ws = FakeWebSocket.latest();
    ws.serverOpen();
    await user.click(within(panel).getByTestId("end-stream"));
    await user.click(within(panel).getByRole("button", { name: "Yes, end stream" }));
    expect(await screen.findByTestId("go-live-form")).toBeInTheDocument();
    expect(ws.closedWith).toBe(1000);
    expect(screen.queryByTestId("chat-panel")).not.toBeInTheDocument();
  });

  it("edits the title and description of the live stream", async () => {
    const { state } = fakeServer(makeStream({ title: "Old title" }));
    const user = userEvent.setup();
    renderApp("/dashboard");

    const form = await screen.findByTestId("edit-stream-form");
    const title = within(form).getByLabelText("Title");
    const save = within(form).getByRole("button", { name: "Save changes" });
    expect(save).toBeDisabled(); // nothing changed yet
    await user.clear(title);
    await user.type(title, "New title");
    await user.click(save);

    expect(await within(form).findByText(/Saved/)).toBeInTheDocument();
    expect(state.bodies).toEqual([{ title: "New title", description: "Soldering, then sound." }]);
    await waitFor(() => expect(screen.getByTestId("live-title")).toHaveTextContent("New title"));
  });

  it("keeps the stream key hidden until revealed, and rotates it only after confirmation", async () => {
    const { calls } = fakeServer(null);
    const user = userEvent.setup();
    renderApp("/dashboard");

    const setup = await screen.findByTestId("stream-setup");
    expect(await within(setup).findByTestId("rtmp-url")).toHaveTextContent("rtmp://localhost/live");
    const key = within(setup).getByTestId("stream-key");
    expect(key).not.toHaveTextContent(KEY.stream_key);
    await user.click(within(setup).getByTestId("reveal-key"));
    expect(key).toHaveTextContent(KEY.stream_key);
    await user.click(within(setup).getByTestId("reveal-key"));
    expect(key).not.toHaveTextContent(KEY.stream_key);

    await user.click(within(setup).getByTestId("rotate-key"));
    const confirm = within(setup).getByTestId("rotate-confirm");
    expect(confirm).toHaveTextContent(/OBS/);
    await user.click(within(confirm).getByRole("button", { name: "Cancel" }));
    expect(calls.some((c) => c.url.endsWith("/rotate"))).toBe(false);

    await user.click(within(setup).getByTestId("rotate-key"));
    await user.click(within(setup).getByRole("button", { name: "Yes, make a new key" }));
    expect(await within(setup).findByTestId("key-rotated")).toHaveTextContent("Update it in OBS");
    await user.click(within(setup).getByTestId("reveal-key"));
    expect(key).toHaveTextContent("live_sk_rotated_9876543210");
  });

  it("switches to the live stream when one was already opened from OBS", async () => {
    const { state } = fakeServer(null);
    const user = userEvent.setup();
    renderApp("/dashboard");

    const form = await screen.findByTestId("go-live-form");
    state.live = makeStream({ title: "Alice is live", media_state: "live" });
    await user.type(within(form).getByLabelText("Title"), "Too late");
    await user.click(within(form).getByRole("button", { name: "Go live" }));

    expect(await screen.findByTestId("live-panel")).toBeInTheDocument();
    expect(screen.getByTestId("live-title")).toHaveTextContent("Alice is live");
  });

  it("sends anonymous visitors to log in", async () => {
    resetSessionForTests();
    stubFetch({});
    clearSession();
    const { router } = renderApp("/dashboard");
    await waitFor(() => expect(router.state.location.pathname).toBe("/login"));
    expect(router.state.location.search).toBe("?next=%2Fdashboard");
  });
});
