// The home page's "Upcoming from people you follow".
import { act, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Schedule } from "../api/schedules";
import { clearSession, resetSessionForTests, setAuthenticated } from "../auth/session";
import { alice, errorBody, json, stubFetch } from "../test/http";
import { renderApp } from "../test/render";
import { at, bob, bobSchedule, NOW, schedulePage } from "../test/schedules";
import { page } from "../test/streams";
import { setTimeZoneForTests } from "./time";

function home(answer: Schedule[] | (() => Response)) {
  return stubFetch({
    "GET /api/streams": () => json(200, page([])),
    "GET /api/schedules/following": () => (typeof answer === "function" ? answer() : json(200, schedulePage(answer))),
  });
}

const followingCalls = (calls: Request[]) => calls.filter((c) => new URL(c.url).pathname === "/api/schedules/following");

describe("home: upcoming from people you follow", () => {
  beforeEach(() => {
    resetSessionForTests();
    setTimeZoneForTests("Europe/Paris");
    vi.useFakeTimers({ now: NOW, toFake: ["Date", "setInterval", "clearInterval"] });
  });
  afterEach(() => {
    vi.useRealTimers();
    setTimeZoneForTests(null);
    resetSessionForTests();
  });

  it("lists what followed creators have planned, whose it is, when in the viewer's zone, and a countdown", async () => {
    setAuthenticated("token-a", alice);
    const streamId = "5e1f0c2a-0000-4000-8000-00000000d0d1";
    const { calls } = home([
      bobSchedule({ schedule_id: "5c4ed01e-0000-4000-8000-0000000000b2", status: "live", starts_at: at(-3), stream_id: streamId, title: "On air" }),
      bobSchedule({ starts_at: at(95), description: null, expected_duration_minutes: null }),
    ]);
    renderApp("/");

    const section = await screen.findByTestId("following-schedules");
    expect(within(section).getByRole("heading", { name: "Upcoming from people you follow" })).toBeInTheDocument();
    await waitFor(() => expect(within(section).getAllByTestId("schedule-entry")).toHaveLength(2));
    const [live, later] = within(section).getAllByTestId("schedule-entry") as [HTMLElement, HTMLElement];

    expect(within(live).getByTestId("schedule-watch")).toHaveAttribute("href", `/watch/${streamId}`);
    expect(within(later).getByTestId("schedule-title")).toHaveTextContent("Any% attempts");
    expect(within(later).getByTestId("schedule-creator")).toHaveTextContent(bob.display_name);
    expect(within(later).getByTestId("schedule-creator")).toHaveAttribute("href", "/u/bob");
    // 13:35 UTC is 14:35 in Paris.
    expect(within(later).getByTestId("schedule-time")).toHaveTextContent("Mon, Dec 7, 2026, 2:35 PM GMT+1");
    expect(within(later).getByTestId("schedule-countdown")).toHaveTextContent("starts in 1 h 35 min");
    expect(within(later).queryByTestId("schedule-length")).not.toBeInTheDocument();
    expect(within(section).getByText("Times are in your time zone (Europe/Paris).")).toBeInTheDocument();

    act(() => void vi.advanceTimersByTime(60_000));
    expect(within(later).getByTestId("schedule-countdown")).toHaveTextContent("starts in 1 h 34 min");

    const call = followingCalls(calls)[0]!;
    expect(call.headers.get("Authorization")).toBe("Bearer token-a");
    expect(new URL(call.url).searchParams.get("limit")).toBe("20");
  });

  it("says so when nothing is planned", async () => {
    setAuthenticated("token-a", alice);
    home([]);
    renderApp("/");
    const section = await screen.findByTestId("following-schedules");
    expect(await within(section).findByText("Nothing planned yet")).toBeInTheDocument();
    expect(within(section).queryByTestId("schedule-entry")).not.toBeInTheDocument();
  });

  it("shows an error it could not load", async () => {
    setAuthenticated("token-a", alice);
    home(() => errorBody(429, "RATE_LIMITED", "Too many requests"));
    renderApp("/");
    expect(await screen.findByTestId("following-schedules-error")).toHaveTextContent("Too many requests");
  });

  it("is not there for an anonymous visitor, who is not asked about it", async () => {
    clearSession();
    const { calls } = home([bobSchedule()]);
    renderApp("/");
    expect(await screen.findByTestId("live-now")).toBeInTheDocument();
    await waitFor(() => expect(calls.some((c) => new URL(c.url).pathname === "/api/streams")).toBe(true));
    expect(screen.queryByTestId("following-schedules")).not.toBeInTheDocument();
    expect(followingCalls(calls)).toHaveLength(0);
  });
});
