// The bell next to Unfollow: mute or unmute a creator's go-live notifications.
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resetSessionForTests, setAuthenticated } from "../auth/session";
import { archivePage } from "../test/archives";
import { alice, errorBody, json, stubFetch } from "../test/http";
import { renderApp } from "../test/render";
import { page } from "../test/streams";

const bob = {
  user_id: "0b0b0b0b-0000-4000-8000-000000000002",
  username: "bob",
  display_name: "Bob the Streamer",
  bio: null,
  created_at: "2026-03-01T00:00:00Z",
  follower_count: 4,
  following_count: 1,
  viewer_follow_id: null as string | null,
  viewer_follow_notify: null as boolean | null,
};
const follow = (notify: boolean) => ({
  follow_id: "f-1",
  follower_id: alice.user_id,
  following_id: bob.user_id,
  created_at: "2026-03-02T00:00:00Z",
  notify,
});
const base = {
  "GET /api/streams": () => json(200, page([])),
  "GET /api/archives": () => json(200, archivePage([])),
  "GET /api/notifications/unread-count": () => json(200, { unread: 0 }),
};
const bell = () => screen.getByTestId("follow-notify-button");

describe("follow button's notification bell", () => {
  beforeEach(() => {
    resetSessionForTests();
    setAuthenticated("token-a", alice);
  });
  afterEach(() => resetSessionForTests());

  it("appears once following, and mutes and unmutes with PUT /api/follows/{id}", async () => {
    let server = { ...bob };
    const bodies: unknown[] = [];
    const { calls } = stubFetch({
      ...base,
      "GET /api/users/by-username/bob": () => json(200, server),
      "POST /api/follows": () => {
        server = { ...server, viewer_follow_id: "f-1", viewer_follow_notify: true };
        return json(201, follow(true));
      },
      "PUT /api/follows/f-1": async (req) => {
        const body = (await req.json()) as { notify: boolean };
        bodies.push(body);
        return json(200, follow(body.notify));
      },
    });
    const user = userEvent.setup();
    renderApp("/u/bob");
    await user.click(await screen.findByRole("button", { name: "Follow" }));
    await screen.findByRole("button", { name: "Unfollow" });
    expect(bell()).toHaveAttribute("aria-pressed", "true");
    expect(bell()).toHaveAccessibleName("Mute go-live notifications from Bob the Streamer");

    await user.click(bell());
    await waitFor(() => expect(bell()).toHaveAttribute("aria-pressed", "false"));
    expect(bell()).toHaveAccessibleName("Turn on go-live notifications from Bob the Streamer");
    await user.click(bell());
    await waitFor(() => expect(bell()).toHaveAttribute("aria-pressed", "true"));

    const puts = calls.filter((c) => c.method === "PUT");
    expect(puts.map((c) => new URL(c.url).pathname)).toEqual(["/api/follows/f-1", "/api/follows/f-1"]);
    expect(bodies).toEqual([{ notify: false }, { notify: true }]);
  });

  it("is not there when not following", async () => {
    stubFetch({ ...base, "GET /api/users/by-username/bob": () => json(200, bob) });
    renderApp("/u/bob");
    await screen.findByRole("button", { name: "Follow" });
    expect(screen.queryByTestId("follow-notify-button")).not.toBeInTheDocument();
  });

  it("shows a mute saved before the page was loaded, and turns it back on", async () => {
    const bodies: unknown[] = [];
    stubFetch({
      ...base,
      "GET /api/users/by-username/bob": () =>
        json(200, { ...bob, viewer_follow_id: "f-1", viewer_follow_notify: false }),
      "PUT /api/follows/f-1": async (req) => {
        const body = (await req.json()) as { notify: boolean };
        bodies.push(body);
        return json(200, follow(body.notify));
      },
    });
    const user = userEvent.setup();
    renderApp("/u/bob");
    await screen.findByRole("button", { name: "Unfollow" });
    expect(bell()).toHaveAttribute("aria-pressed", "false");
    expect(bell()).toHaveAccessibleName("Turn on go-live notifications from Bob the Streamer");

    await user.click(bell());
    await waitFor(() => expect(bell()).toHaveAttribute("aria-pressed", "true"));
    expect(bodies).toEqual([{ notify: true }]);
  });

  it("shows notifications on when the profile says the follow notifies", async () => {
    stubFetch({
      ...base,
      "GET /api/users/by-username/bob": () => json(200, { ...bob, viewer_follow_id: "f-1", viewer_follow_notify: true }),
    });
    renderApp("/u/bob");
    await screen.findByRole("button", { name: "Unfollow" });
    expect(bell()).toHaveAttribute("aria-pressed", "true");
  });

  it("keeps its state and says why when the change fails", async () => {
    stubFetch({
      ...base,
      "GET /api/users/by-username/bob": () =>
        json(200, { ...bob, viewer_follow_id: "f-1", viewer_follow_notify: false }),
      "PUT /api/follows/f-1": () => errorBody(403, "FORBIDDEN", "That is not your follow."),
    });
    const user = userEvent.setup();
    renderApp("/u/bob");
    await screen.findByRole("button", { name: "Unfollow" });
    await user.click(bell());
    expect(await screen.findByRole("alert")).toHaveTextContent("That is not your follow.");
    expect(bell()).toHaveAttribute("aria-pressed", "false");
  });
});
