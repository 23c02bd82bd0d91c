// "Upcoming streams" on a channel page.
import { act, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { clearSession, resetSessionForTests, setAuthenticated } from "../auth/session";
import { archivePage } from "../test/archives";
import { alice, errorBody, json, stubFetch } from "../test/http";
import { renderApp } from "../test/render";
import { at, bob, makeSchedule, NOW, numberedSchedule, schedulePage } from "../test/schedules";
import { page } from "../test/streams";
import { setTimeZoneForTests } from "./time";
import type { Schedule } from "../api/schedules";

/** Bob's channel with these schedule entries (or this answer). */
function channel(answer: Schedule[] | (() => Response)) {
  return stubFetch({
    "GET /api/users/by-username/bob": () => json(200, bob),
    "GET /api/streams": () => json(200, page([])),
    "GET /api/archives": () => json(200, archivePage([])),
    "GET /api/schedules": (req) => {
      const q = new URL(req.url).searchParams;
      expect(q.get("user_id")).toBe(bob.user_id);
      expect(q.get("limit")).toBe("20");
      return typeof answer === "function" ? answer() : json(200, schedulePage(answer));
    },
  });
}

const bobs = (n: number, over: Partial<Schedule>) =>
  numberedSchedule(n, { user_id: bob.user_id, creator: { user_id: bob.user_id, username: "bob", display_name: bob.display_name }, ...over });

const entries = () => screen.queryAllByTestId("schedule-entry");
const entry = (n: number) => entries().find((e) => e.getAttribute("data-schedule-id") === numberedSchedule(n).schedule_id)!;
const tick = (ms: number) => act(() => void vi.advanceTimersByTime(ms));

describe("channel schedule", () => {
  beforeEach(() => {
    resetSessionForTests();
    clearSession(); // an anonymous visitor unless a test signs in
    // Date and the countdown's interval are the test's; everything else (fetch, waitFor) runs in real time.
    vi.useFakeTimers({ now: NOW, toFake: ["Date", "setInterval", "clearInterval"] });
  });
  afterEach(() => {
    vi.useRealTimers();
    setTimeZoneForTests(null);
    resetSessionForTests();
  });

  it("shows each start in the viewer's time zone, with the zone's name", async () => {
    setTimeZoneForTests("Europe/Paris");
    channel([bobs(1, { starts_at: "2026-12-08T18:00:00Z", expected_duration_minutes: 90 })]);
    const view = renderApp("/u/bob");

    const section = await screen.findByTestId("channel-schedule");
    expect(within(section).getByRole("heading", { name: "Upcoming streams" })).toBeInTheDocument();
    const time = within(entry(1)).getByTestId("schedule-time");
    expect(time).toHaveTextContent("Tue, Dec 8, 2026, 7:00 PM GMT+1");
    expect(time).toHaveAttribute("datetime", "2026-12-08T18:00:00Z");
    expect(within(entry(1)).getByTestId("schedule-length")).toHaveTextContent("about 1 h 30 min");
    expect(within(entry(1)).getByTestId("schedule-description")).toHaveTextContent("Filters and envelopes.");
    expect(within(section).getByTestId("schedule-zone")).toHaveTextContent("Times are in your time zone (Europe/Paris).");
    view.unmount();

    // The same entry for a viewer in Tokyo: the next day, at 3 in the morning.
    setTimeZoneForTests("Asia/Tokyo");
    renderApp("/u/bob");
    await screen.findByTestId("channel-schedule");
    expect(within(entry(1)).getByTestId("schedule-time")).toHaveTextContent("Wed, Dec 9, 2026, 3:00 AM GMT+9");
    expect(screen.getByTestId("schedule-zone")).toHaveTextContent("(Asia/Tokyo)");
  });

  it("counts down every second, says when it is starting, and links to the stream once live", async () => {
    setTimeZoneForTests("UTC");
    const streamId = "5e1f0c2a-0000-4000-8000-00000000b0b1";
    channel([
      bobs(1, { status: "live", starts_at: at(-10), stream_id: streamId }),
      bobs(2, { starts_at: at(1.5) }),
      bobs(3, { starts_at: at(125) }),
      bobs(4, { starts_at: at(3 * 24 * 60 + 60) }),
    ]);
    renderApp("/u/bob");
    await screen.findByTestId("channel-schedule");
    expect(entries()).toHaveLength(4);

    const watch = within(entry(1)).getByTestId("schedule-watch");
    expect(watch).toHaveTextContent("Live now: watch");
    expect(watch).toHaveAttribute("href", `/watch/${streamId}`);
    expect(within(entry(1)).getByTestId("schedule-status")).toHaveTextContent("Live now");

    const countdown = (n: number) => within(entry(n)).getByTestId("schedule-countdown");
    expect(countdown(2)).toHaveTextContent("starts in 1 min 30 s");
    expect(countdown(3)).toHaveTextContent("starts in 2 h 5 min");
    expect(countdown(4)).toHaveTextContent("starts in 3 days 1 h");
    expect(within(entry(2)).queryByTestId("schedule-status")).not.toBeInTheDocument();

    tick(1000);
    expect(countdown(2)).toHaveTextContent("starts in 1 min 29 s");
    expect(countdown(3)).toHaveTextContent("starts in 2 h 4 min");

    tick(89_000);
    expect(countdown(2)).toHaveTextContent("starting now");
    expect(within(entry(2)).getByTestId("schedule-status")).toHaveTextContent("Starting now");
    expect(entry(2)).toHaveAttribute("data-phase", "starting");
    expect(within(entry(2)).queryByTestId("schedule-watch")).not.toBeInTheDocument();
  });

  it("offers the calendar feed to add or subscribe to", async () => {
    setTimeZoneForTests("UTC");
    channel([bobs(1, {})]);
    renderApp("/u/bob");
    const section = await screen.findByTestId("channel-schedule");
    const feed = `http://localhost:3000/api/users/${bob.user_id}/schedule.ics`;
    expect(within(section).getByRole("link", { name: "Add to calendar" })).toHaveAttribute("href", feed);
    expect(within(section).getByRole("link", { name: "Subscribe" })).toHaveAttribute(
      "href",
      `webcal://localhost:3000/api/users/${bob.user_id}/schedule.ics`,
    );
    expect(within(section).getByTestId("schedule-copy-feed")).toHaveTextContent("Copy feed URL");
  });

  it("shows no section when nothing is coming: none planned, only past, cancelled or missed ones, or no answer", async () => {
    setTimeZoneForTests("UTC");
    for (const answer of [
      [] as Schedule[],
      [
        bobs(1, { status: "cancelled", starts_at: at(60) }),
        bobs(2, { status: "done", starts_at: at(-120), stream_id: "5e1f0c2a-0000-4000-8000-00000000b0b2" }),
        bobs(3, { starts_at: at(-31) }), // its time passed unclaimed
      ],
      () => errorBody(500, "INTERNAL_ERROR", "boom"),
    ]) {
      const { calls } = channel(answer);
      const view = renderApp("/u/bob");
      expect(await screen.findByTestId("profile-display-name")).toHaveTextContent("Bob the Streamer");
      await waitFor(() => expect(calls.some((c) => new URL(c.url).pathname === "/api/schedules")).toBe(true));
      await waitFor(() => expect(screen.getByTestId("past-streams")).toBeInTheDocument());
      expect(screen.queryByTestId("channel-schedule")).not.toBeInTheDocument();
      expect(screen.queryByText("Upcoming streams")).not.toBeInTheDocument();
      view.unmount();
    }
  });

  it("drops an entry once its time has passed without a stream (30 minutes on)", async () => {
    setTimeZoneForTests("UTC");
    channel([bobs(1, { starts_at: at(-29) }), bobs(2, { starts_at: at(60) })]);
    renderApp("/u/bob");
    await screen.findByTestId("channel-schedule");
    expect(entry(1)).toHaveAttribute("data-phase", "starting");
    tick(60_000);
    await waitFor(() => expect(entries()).toHaveLength(1));
    expect(entries()[0]).toHaveAttribute("data-schedule-id", numberedSchedule(2).schedule_id);
  });

  it("is the same for the creator's own channel", async () => {
    setAuthenticated("token-a", alice);
    setTimeZoneForTests("UTC");
    stubFetch({
      "GET /api/users/by-username/alice": () => json(200, alice),
      "GET /api/streams": () => json(200, page([])),
      "GET /api/archives": () => json(200, archivePage([])),
      "GET /api/schedules": () => json(200, schedulePage([makeSchedule()])),
    });
    renderApp("/u/alice");
    const section = await screen.findByTestId("channel-schedule");
    expect(within(section).getByTestId("schedule-title")).toHaveTextContent("Synth build, part 2");
  });
});
