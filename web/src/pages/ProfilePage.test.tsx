import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearSession, resetSessionForTests, setAuthenticated } from "../auth/session";
import { alice, errorBody, json, stubFetch } from "../test/http";
import { renderApp } from "../test/render";
import { archivePage, numberedArchive } from "../test/archives";
import { makeStream, page } from "../test/streams";

/** No streams (nor archives) at all, for tests about the profile itself. */
const noStreams = {
  "GET /api/streams": () => json(200, page([])),
  "GET /api/archives": () => json(200, archivePage([])),
};

const bob = {
  user_id: "0b0b0b0b-0000-4000-8000-000000000002",
  username: "bob",
  display_name: "Bob the Streamer",
  bio: "Speedruns every Friday.",
  created_at: "2026-03-01T00:00:00Z",
  follower_count: 4,
  following_count: 1,
  viewer_follow_id: null as string | null,
};

describe("profile page", () => {
  beforeEach(() => resetSessionForTests());
  afterEach(() => resetSessionForTests());

  it("follows and unfollows, updating the follower count", async () => {
    setAuthenticated("token-a", alice);
    let server = { ...bob };
    const { calls } = stubFetch({
      ...noStreams,
      "GET /api/users/by-username/bob": () => json(200, server),
      "POST /api/follows": () => {
        server = { ...server, viewer_follow_id: "f-1", follower_count: server.follower_count + 1 };
        return json(201, { follow_id: "f-1", follower_id: alice.user_id, following_id: bob.user_id, created_at: "2026-03-02T00:00:00Z" });
      },
      "DELETE /api/follows/f-1": () => {
        server = { ...server, viewer_follow_id: null, follower_count: server.follower_count - 1 };
        return json(204, null);
      },
    });
    const user = userEvent.setup();
    renderApp("/u/bob");

    expect(await screen.findByTestId("profile-display-name")).toHaveTextContent("Bob the Streamer");
    expect(screen.getByTestId("profile-username")).toHaveTextContent("@bob");
    expect(screen.getByTestId("profile-bio")).toHaveTextContent("Speedruns every Friday.");
    expect(screen.getByTestId("follower-count")).toHaveTextContent("4");
    expect(screen.queryByRole("link", { name: "Edit profile" })).not.toBeInTheDocument();

    await user.click(screen.getByRole("button", { name: "Follow" }));
    expect(await screen.findByRole("button", { name: "Unfollow" })).toBeEnabled();
    await waitFor(() => expect(screen.getByTestId("follower-count")).toHaveTextContent("5"));
    const follow = calls.find((c) => c.method === "POST")!;
    expect(follow.headers.get("Authorization")).toBe("Bearer token-a");

    await user.click(screen.getByRole("button", { name: "Unfollow" }));
    expect(await screen.findByRole("button", { name: "Follow" })).toBeEnabled();
    await waitFor(() => expect(screen.getByTestId("follower-count")).toHaveTextContent("4"));
  });

  it("offers the owner an edit link instead of a follow button", async () => {
    setAuthenticated("token-a", alice);
    stubFetch({ ...noStreams, "GET /api/users/by-username/alice": () => json(200, alice) });
    renderApp("/u/alice");
    expect(await screen.findByRole("link", { name: "Edit profile" })).toHaveAttribute("href", "/settings/profile");
    expect(screen.queryByTestId("follow-button")).not.toBeInTheDocument();
  });

  it("asks an anonymous visitor to log in to follow", async () => {
    clearSession();
    stubFetch({ ...noStreams, "GET /api/users/by-username/bob": () => json(200, bob) });
    renderApp("/u/bob");
    expect(await screen.findByRole("link", { name: "Log in to follow" })).toHaveAttribute("href", "/login?next=%2Fu%2Fbob");
  });

  it("says so when the user does not exist", async () => {
    clearSession();
    stubFetch({ "GET /api/users/by-username/nobody": () => errorBody(404, "USER_NOT_FOUND", "User not found") });
    renderApp("/u/nobody");
    expect(await screen.findByRole("heading", { name: "User not found" })).toBeInTheDocument();
  });
});

describe("channel streams", () => {
  beforeEach(() => {
    resetSessionForTests();
    clearSession();
  });
  afterEach(() => resetSessionForTests());

  it("shows the live stream on top and the past streams below, page by page", async () => {
    const bobStream = (n: number, over: Parameters<typeof makeStream>[0] = {}) =>
      makeStream({
        stream_id: `5e1f0c2a-0000-4000-8000-00000000b00${n}`,
        user_id: bob.user_id,
        user: { user_id: bob.user_id, username: "bob", display_name: bob.display_name },
        status: "ended",
        media_state: "ended",
        ended_at: "2026-03-04T22:00:00Z",
        hls_url: null,
        thumbnail_url: null,
        title: `Past run ${n}`,
        ...over,
      });
    const live = bobStream(9, { status: "live", media_state: "live", ended_at: null, title: "Any% attempt", hls_url: "http://localhost:3000/hls/x/master.m3u8", thumbnail_url: "http://localhost:3000/hls/x/thumbnail.jpg" });
    const { calls } = stubFetch({
      "GET /api/users/by-username/bob": () => json(200, bob),
      "GET /api/archives": () => json(200, archivePage([])),
      "GET /api/streams": (req) => {
        const q = new URL(req.url).searchParams;
        expect(q.get("user_id")).toBe(bob.user_id);
        if (q.get("status") === "live") return json(200, page([live]));
        return q.get("cursor") === "c2" ? json(200, page([bobStream(3)])) : json(200, page([bobStream(1), bobStream(2)], "c2"));
      },
    });
    const user = userEvent.setup();
    renderApp("/u/bob");

    const current = await screen.findByTestId("channel-live");
    expect(within(current).getByTestId("stream-card-title")).toHaveTextContent("Any% attempt");
    expect(within(current).getByTestId("stream-card-title")).toHaveAttribute("href", `/watch/${live.stream_id}`);
    expect(within(current).getByText("Live")).toBeInTheDocument();
    // Until the first thumbnail is written the server answers 404: a placeholder stands in.
    const img = current.querySelector("img")!;
    expect(img.getAttribute("src")).toMatch(/thumbnail\.jpg\?t=\d+$/);
    fireEvent.error(img);
    expect(within(current).getByTestId("thumbnail-placeholder")).toBeInTheDocument();

    const past = screen.getByTestId("past-streams");
    await waitFor(() => expect(within(past).getAllByTestId("stream-card")).toHaveLength(2));
    await user.click(within(past).getByRole("button", { name: "Load more" }));
    await waitFor(() => expect(within(past).getAllByTestId("stream-card")).toHaveLength(3));
    expect(within(past).getAllByTestId("stream-card-title").map((a) => a.textContent)).toEqual(["Past run 1", "Past run 2", "Past run 3"]);
    expect(within(past).queryByText("Live")).not.toBeInTheDocument();
    expect(calls.filter((c) => new URL(c.url).searchParams.get("status") === "ended")).toHaveLength(2);
  });

  it("tells the owner how to go live when there are no streams yet", async () => {
    setAuthenticated("token-a", alice);
    stubFetch({ ...noStreams, "GET /api/users/by-username/alice": () => json(200, alice) });
    renderApp("/u/alice");
    expect(await screen.findByText("You have not gone live yet.")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Open the creator dashboard" })).toHaveAttribute("href", "/dashboard");
    expect(screen.queryByTestId("channel-live")).not.toBeInTheDocument();
  });
});

describe("channel archives", () => {
  beforeEach(() => {
    resetSessionForTests();
    clearSession();
  });
  afterEach(() => resetSessionForTests());

  // Noon, local time: the same date in every time zone the tests may run in.
  const MAR_4 = new Date(2026, 2, 4, 12).toISOString();
  const FEB_10 = new Date(2026, 1, 10, 12).toISOString();
  const bobArchive = (n: number, over: Parameters<typeof numberedArchive>[1] = {}) =>
    numberedArchive(n, {
      started_at: MAR_4,
      user_id: bob.user_id,
      user: { user_id: bob.user_id, username: "bob", display_name: bob.display_name },
      title: `Replay ${n}`,
      ...over,
    });

  it("shows the ready archives as a grid with poster, title, length and date, each linking to its watch page, page by page", async () => {
    const { calls } = stubFetch({
      ...noStreams,
      "GET /api/users/by-username/bob": () => json(200, bob),
      "GET /api/archives": (req) => {
        const q = new URL(req.url).searchParams;
        expect(q.get("user_id")).toBe(bob.user_id);
        return q.get("cursor") === "c2"
          ? json(200, archivePage([bobArchive(1, { storage_class: "GLACIER", started_at: FEB_10 })]))
          : json(200, archivePage([bobArchive(3, { duration: 45 }), bobArchive(2, { duration: 7384 })], "c2"));
      },
    });
    const user = userEvent.setup();
    renderApp("/u/bob");

    const section = await screen.findByTestId("channel-archives");
    expect(within(section).getByRole("heading", { name: "Archives" })).toBeInTheDocument();
    await waitFor(() => expect(within(section).getAllByTestId("archive-card")).toHaveLength(2));
    const [first] = within(section).getAllByTestId("archive-card");
    expect(within(first!).getByTestId("archive-card-title")).toHaveTextContent("Replay 3");
    expect(within(first!).getByTestId("archive-card-title")).toHaveAttribute("href", `/watch/${bobArchive(3).stream_id}`);
    expect(within(first!).getByTestId("archive-duration")).toHaveTextContent("0:00:45");
    expect(within(first!).getByTestId("archive-date")).toHaveTextContent("Mar 4, 2026");
    expect(within(first!).getByTestId("archive-date")).toHaveAttribute("dateTime", MAR_4);
    // The poster, as is (a finished archive's poster does not change).
    expect(first!.querySelector("img")).toHaveAttribute("src", bobArchive(3).thumbnail_url!);
    expect(within(section).getAllByTestId("archive-duration").map((d) => d.textContent)).toEqual(["0:00:45", "2:03:04"]);

    await user.click(within(section).getByRole("button", { name: "Load more" }));
    await waitFor(() => expect(within(section).getAllByTestId("archive-card")).toHaveLength(3));
    expect(within(section).getAllByTestId("archive-card-title").map((a) => a.textContent)).toEqual(["Replay 3", "Replay 2", "Replay 1"]);
    const last = within(section).getAllByTestId("archive-card")[2]!;
    expect(within(last).getByTestId("archive-date")).toHaveTextContent("Feb 10, 2026");
    // Cold or not, it is listed alike: only playing it tells (a restored archive keeps its storage class).
    expect(within(last).queryByText(/cold/i)).not.toBeInTheDocument();
    expect(within(section).queryByRole("button", { name: "Load more" })).not.toBeInTheDocument();
    const pages = calls.filter((c) => new URL(c.url).pathname === "/api/archives");
    expect(pages.map((c) => new URL(c.url).searchParams.get("cursor"))).toEqual([null, "c2"]);
  });

  it("shows its owner only the ready ones (the dashboard has the rest)", async () => {
    setAuthenticated("token-a", alice);
    stubFetch({
      ...noStreams,
      "GET /api/users/by-username/alice": () => json(200, alice),
      "GET /api/archives": () =>
        json(
          200,
          archivePage([
            numberedArchive(3, { status: "processing", progress: 40, hls_url: null, thumbnail_url: null }),
            numberedArchive(2, { status: "failed", failure_reason: "Broken", hls_url: null }),
            numberedArchive(1),
          ]),
        ),
    });
    renderApp("/u/alice");
    const section = await screen.findByTestId("channel-archives");
    await waitFor(() => expect(within(section).getAllByTestId("archive-card")).toHaveLength(1));
    expect(within(section).getByTestId("archive-card-title")).toHaveTextContent("Stream number 1");
  });

  it("says when there are none, to visitors and to the owner", async () => {
    stubFetch({ ...noStreams, "GET /api/users/by-username/bob": () => json(200, bob) });
    const view = renderApp("/u/bob");
    const section = await screen.findByTestId("channel-archives");
    expect(await within(section).findByText("No archives yet.")).toBeInTheDocument();
    expect(section).toHaveTextContent("Replays of Bob the Streamer’s streams show here.");
    view.unmount();

    setAuthenticated("token-a", alice);
    stubFetch({
      ...noStreams,
      "GET /api/users/by-username/alice": () => json(200, alice),
      "GET /api/archives": () => json(200, archivePage([numberedArchive(1, { status: "processing", progress: 5, hls_url: null })])),
    });
    renderApp("/u/alice");
    const own = await screen.findByTestId("channel-archives");
    expect(await within(own).findByText("No archives yet.")).toBeInTheDocument();
    expect(own).toHaveTextContent("Your replays show here once they are ready.");
    expect(within(own).getByRole("link", { name: "See them on the creator dashboard" })).toHaveAttribute("href", "/dashboard");
  });

  it("says what went wrong when the archives cannot be loaded", async () => {
    stubFetch({
      ...noStreams,
      "GET /api/users/by-username/bob": () => json(200, bob),
      "GET /api/archives": () => errorBody(422, "VALIDATION_ERROR", "user_id is not a valid id"),
    });
    renderApp("/u/bob");
    const section = await screen.findByTestId("channel-archives");
    expect(await within(section).findByRole("alert")).toHaveTextContent("user_id is not a valid id");
    // The rest of the channel is still there.
    expect(screen.getByTestId("past-streams")).toBeInTheDocument();
  });
});

describe("follower list", () => {
  beforeEach(() => {
    resetSessionForTests();
    clearSession();
  });
  afterEach(() => resetSessionForTests());

  it("loads more with the cursor until there is none", async () => {
    const person = (n: number) => ({
      follow_id: `f-${n}`,
      followed_at: "2026-03-02T00:00:00Z",
      user: { user_id: `u-${n}`, username: `fan${n}`, display_name: null, bio: null, created_at: "2026-03-01T00:00:00Z" },
    });
    const { calls } = stubFetch({
      "GET /api/users/by-username/bob": () => json(200, bob),
      [`GET /api/users/${bob.user_id}/followers`]: (req) =>
        new URL(req.url).searchParams.get("cursor") === "c2"
          ? json(200, { items: [person(3)], next_cursor: null })
          : json(200, { items: [person(1), person(2)], next_cursor: "c2" }),
    });
    const user = userEvent.setup();
    renderApp("/u/bob/followers");

    await waitFor(() => expect(screen.getAllByTestId("follow-list-item")).toHaveLength(2));
    await user.click(screen.getByRole("button", { name: "Load more" }));
    await waitFor(() => expect(screen.getAllByTestId("follow-list-item")).toHaveLength(3));
    expect(screen.getByRole("link", { name: /@fan3/ })).toHaveAttribute("href", "/u/fan3");
    expect(screen.queryByRole("button", { name: "Load more" })).not.toBeInTheDocument();
    const pages = calls.filter((c) => c.url.includes("/followers"));
    expect(new URL(pages[0]!.url).searchParams.get("cursor")).toBeNull();
    expect(new URL(pages[1]!.url).searchParams.get("cursor")).toBe("c2");
  });
});
