// The creator's Schedule card on the dashboard.
import { act, fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Schedule } from "../api/schedules";
import { resetSessionForTests, setAuthenticated } from "../auth/session";
import { alice, errorBody, json, stubFetch } from "../test/http";
import { renderApp } from "../test/render";
import { at, makeSchedule, NOW, numberedSchedule, schedulePage, SCHEDULE_ID } from "../test/schedules";
import { page } from "../test/streams";
import { setTimeZoneForTests } from "./time";

const KEY = { stream_key: "live_sk_first_0123456789", rtmp_url: "rtmp://localhost/live", created_at: "2026-03-01T00:00:00Z" };

type Handler = (req: Request) => Response | Promise<Response>;

/** The dashboard's API, with a schedule the test changes at will and answers it can replace. */
function fakeServer(initial: Schedule[]) {
  const state = {
    items: initial,
    bodies: [] as { method: string; path: string; body: unknown }[],
    create: null as Handler | null,
    update: null as Handler | null,
    cancel: null as Handler | null,
  };
  const record = async (req: Request) => {
    const text = req.method === "DELETE" ? "" : await req.clone().text();
    state.bodies.push({ method: req.method, path: new URL(req.url).pathname, body: text ? JSON.parse(text) : null });
  };
  const routes: Record<string, Handler> = {
    "GET /api/streams": () => json(200, page([])),
    "GET /api/users/me/stream-key": () => json(200, KEY),
    "GET /api/archives": () => json(200, { items: [], next_cursor: null }),
    "GET /api/schedules": (req) => {
      const q = new URL(req.url).searchParams;
      expect(q.get("user_id")).toBe(alice.user_id);
      expect(q.get("limit")).toBe("200");
      return json(200, schedulePage(state.items));
    },
    "POST /api/schedules": async (req) => {
      await record(req);
      if (state.create) return state.create(req);
      const body = (await req.json()) as Partial<Schedule>;
      const created = makeSchedule({
        schedule_id: "5c4ed01e-0000-4000-8000-0000000000f1",
        title: body.title!,
        description: body.description ?? null,
        starts_at: body.starts_at!,
        expected_duration_minutes: body.expected_duration_minutes ?? null,
      });
      state.items = [...state.items, created];
      return json(201, created);
    },
  };
  for (const schedule of initial) {
    const path = `/api/schedules/${schedule.schedule_id}`;
    routes[`PUT ${path}`] = async (req) => {
      await record(req);
      if (state.update) return state.update(req);
      const body = (await req.json()) as Partial<Schedule>;
      const next = { ...state.items.find((s) => s.schedule_id === schedule.schedule_id)!, ...body };
      state.items = state.items.map((s) => (s.schedule_id === schedule.schedule_id ? next : s));
      return json(200, next);
    };
    routes[`DELETE ${path}`] = async (req) => {
      await record(req);
      if (state.cancel) return state.cancel(req);
      state.items = state.items.map((s) => (s.schedule_id === schedule.schedule_id ? { ...s, status: "cancelled" as const } : s));
      return json(204, null);
    };
  }
  return { state, ...stubFetch(routes) };
}

const card = () => screen.getByTestId("schedule-card");
const form = () => screen.getByTestId("schedule-form");
const rows = () => screen.queryAllByTestId("schedule-row");
const row = (n: number) => rows().find((r) => r.getAttribute("data-schedule-id") === numberedSchedule(n).schedule_id)!;
const writes = (state: { bodies: { method: string }[] }) => state.bodies.filter((b) => b.method !== "GET");

async function openDashboard() {
  renderApp("/dashboard");
  await screen.findByTestId("schedule-card");
  await waitFor(() => expect(within(card()).queryByRole("status", { name: /Loading/ })).not.toBeInTheDocument());
}

describe("dashboard schedule", () => {
  beforeEach(() => {
    resetSessionForTests();
    setAuthenticated("token-a", alice);
    setTimeZoneForTests("America/New_York");
    vi.useFakeTimers({ now: NOW, toFake: ["Date", "setInterval", "clearInterval"] });
  });
  afterEach(() => {
    vi.useRealTimers();
    setTimeZoneForTests(null);
    resetSessionForTests();
  });

  it("says when nothing is planned yet", async () => {
    fakeServer([]);
    await openDashboard();
    expect(within(card()).getByRole("heading", { name: "Schedule" })).toBeInTheDocument();
    expect(await within(card()).findByText("Nothing planned yet.")).toBeInTheDocument();
    expect(rows()).toHaveLength(0);
    expect(within(form()).getByLabelText("Starts at")).toHaveAttribute("type", "datetime-local");
    expect(within(form()).getByText("In your time zone, America/New_York.")).toBeInTheDocument();
  });

  it("lists each entry with its status, and offers changes only where the server accepts them", async () => {
    const streamId = "5e1f0c2a-0000-4000-8000-00000000c0c1";
    fakeServer([
      numberedSchedule(1, { status: "live", starts_at: at(-5), stream_id: streamId }),
      numberedSchedule(2, { starts_at: at(-10) }),
      numberedSchedule(3, { starts_at: at(125), expected_duration_minutes: 45 }),
      numberedSchedule(4, { status: "cancelled", starts_at: at(600) }),
      numberedSchedule(5, { status: "done", starts_at: at(-600), stream_id: "5e1f0c2a-0000-4000-8000-00000000c0c2" }),
      numberedSchedule(6, { starts_at: at(-45) }),
    ]);
    await openDashboard();
    await waitFor(() => expect(rows()).toHaveLength(6));

    const status = (n: number) => within(row(n)).getByTestId("schedule-status");
    expect(status(1)).toHaveTextContent("Live now");
    expect(status(2)).toHaveTextContent("Starting now");
    expect(status(3)).toHaveTextContent("Scheduled");
    expect(status(4)).toHaveTextContent("Cancelled");
    expect(status(5)).toHaveTextContent("Streamed");
    expect(status(6)).toHaveTextContent("Did not start");

    expect(within(row(1)).getByTestId("schedule-watch")).toHaveAttribute("href", `/watch/${streamId}`);
    expect(within(row(2)).getByTestId("schedule-starting-hint")).toHaveTextContent("Go live now");
    expect(within(row(3)).getByTestId("schedule-time")).toHaveTextContent("Mon, Dec 7, 2026, 9:05 AM EST");
    expect(within(row(3)).getByTestId("schedule-countdown")).toHaveTextContent("starts in 2 h 5 min");
    expect(within(row(3)).getByTestId("schedule-length")).toHaveTextContent("about 45 min");

    const can = (n: number, testId: string) => within(row(n)).queryByTestId(testId) !== null;
    // Changing: any entry still planned (a missed one can be moved to a new time). Cancelling: only ahead of time.
    expect([1, 2, 3, 4, 5, 6].map((n) => can(n, "schedule-edit"))).toEqual([false, true, true, false, false, true]);
    expect([1, 2, 3, 4, 5, 6].map((n) => can(n, "schedule-cancel"))).toEqual([false, false, true, false, false, false]);
  });

  it("checks the form before sending anything", async () => {
    const { state } = fakeServer([]);
    const user = userEvent.setup();
    await openDashboard();
    const submit = within(form()).getByRole("button", { name: "Add to schedule" });

    await user.click(submit);
    expect(within(form()).getByText("Give the stream a title.")).toBeInTheDocument();
    expect(within(form()).getByText("Pick a date and time.")).toBeInTheDocument();
    expect(within(form()).getByLabelText("Title")).toHaveAttribute("aria-invalid", "true");

    fireEvent.change(within(form()).getByLabelText("Title"), { target: { value: "x".repeat(141) } });
    fireEvent.change(within(form()).getByLabelText("Starts at"), { target: { value: "2026-12-07T06:59" } }); // 11:59 UTC: past
    fireEvent.change(within(form()).getByLabelText("Expected length (minutes)"), { target: { value: "3" } });
    fireEvent.change(within(form()).getByLabelText("Description"), { target: { value: "d".repeat(2001) } });
    await user.click(submit);
    expect(within(form()).getByText("Use at most 140 characters.")).toBeInTheDocument();
    expect(within(form()).getByText("Pick a time in the future.")).toBeInTheDocument();
    expect(within(form()).getByText(/Enter whole minutes from 5 to 1440/)).toBeInTheDocument();
    expect(within(form()).getByText("Use at most 2000 characters.")).toBeInTheDocument();

    fireEvent.change(within(form()).getByLabelText("Starts at"), { target: { value: "2027-12-08T10:00" } }); // > 1 year
    fireEvent.change(within(form()).getByLabelText("Expected length (minutes)"), { target: { value: "12.5" } });
    await user.click(submit);
    expect(within(form()).getByText("Pick a time at most a year ahead.")).toBeInTheDocument();
    expect(within(form()).getByText(/Enter whole minutes/)).toBeInTheDocument();

    expect(writes(state)).toEqual([]);
  });

  it("sends the creator's local time as UTC, then lists the new entry and clears the form", async () => {
    const { state } = fakeServer([]);
    const user = userEvent.setup();
    await openDashboard();

    await user.type(within(form()).getByLabelText("Title"), "  Synth build, part 3  ");
    // 1 PM in New York on 8 December is 18:00 UTC.
    fireEvent.change(within(form()).getByLabelText("Starts at"), { target: { value: "2026-12-08T13:00" } });
    await user.type(within(form()).getByLabelText("Expected length (minutes)"), "120");
    await user.click(within(form()).getByRole("button", { name: "Add to schedule" }));

    expect(await screen.findByTestId("schedule-created")).toHaveTextContent("“Synth build, part 3” is planned.");
    expect(writes(state)).toEqual([
      {
        method: "POST",
        path: "/api/schedules",
        body: { title: "Synth build, part 3", starts_at: "2026-12-08T18:00:00Z", expected_duration_minutes: 120 },
      },
    ]);
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(within(rows()[0]!).getByTestId("schedule-time")).toHaveTextContent("Tue, Dec 8, 2026, 1:00 PM EST");
    expect(within(rows()[0]!).getByTestId("schedule-length")).toHaveTextContent("about 2 h");
    expect(within(form()).getByLabelText("Title")).toHaveValue("");
    expect(within(form()).getByLabelText("Starts at")).toHaveValue("");
  });

  it("shows the server's errors next to the field they are about", async () => {
    const { state } = fakeServer([]);
    const user = userEvent.setup();
    await openDashboard();
    const fill = async () => {
      fireEvent.change(within(form()).getByLabelText("Title"), { target: { value: "A plan" } });
      fireEvent.change(within(form()).getByLabelText("Starts at"), { target: { value: "2026-12-08T13:00" } });
      await user.click(within(form()).getByRole("button", { name: "Add to schedule" }));
    };

    state.create = () =>
      errorBody(400, "VALIDATION_ERROR", "title: String should have at most 140 characters", {
        fields: { title: "String should have at most 140 characters" },
      });
    await fill();
    const titleError = await within(form()).findByText("String should have at most 140 characters");
    expect(titleError.closest(".field")).toContainElement(within(form()).getByLabelText("Title"));

    // The start's range check (the clock moved on between the form and the server) names the field in its message.
    state.create = () => errorBody(400, "VALIDATION_ERROR", "starts_at must be in the future and at most a year ahead");
    await fill();
    const startError = await within(form()).findByText("Pick a time in the future, at most a year ahead.");
    expect(startError.closest(".field")).toContainElement(within(form()).getByLabelText("Starts at"));
    expect(within(form()).queryByTestId("form-error")).not.toBeInTheDocument();

    state.create = () =>
      errorBody(409, "TOO_MANY_SCHEDULES", "You have planned as many upcoming streams as a channel may have; cancel one first");
    await fill();
    expect(await within(form()).findByTestId("form-error")).toHaveTextContent("cancel one first");
    // What was typed stays for another try.
    expect(within(form()).getByLabelText("Title")).toHaveValue("A plan");
    expect(screen.queryByTestId("schedule-created")).not.toBeInTheDocument();
  });

  it("changes an entry in place, sending only what changed", async () => {
    const { state } = fakeServer([numberedSchedule(1, { starts_at: "2026-12-08T18:00:00Z", expected_duration_minutes: 90 })]);
    const user = userEvent.setup();
    await openDashboard();
    await waitFor(() => expect(rows()).toHaveLength(1));

    await user.click(within(row(1)).getByRole("button", { name: "Change Plan number 1" }));
    const edit = within(row(1)).getByTestId("schedule-edit-form");
    expect(within(edit).getByLabelText("Title")).toHaveValue("Plan number 1");
    expect(within(edit).getByLabelText("Starts at")).toHaveValue("2026-12-08T13:00");
    expect(within(edit).getByLabelText("Expected length (minutes)")).toHaveValue(90);

    await user.clear(within(edit).getByLabelText("Title"));
    await user.type(within(edit).getByLabelText("Title"), "Plan number 1, moved");
    fireEvent.change(within(edit).getByLabelText("Starts at"), { target: { value: "2026-12-08T14:30" } });
    await user.clear(within(edit).getByLabelText("Expected length (minutes)"));
    await user.click(within(edit).getByRole("button", { name: "Save changes" }));

    await waitFor(() => expect(within(row(1)).queryByTestId("schedule-edit-form")).not.toBeInTheDocument());
    expect(writes(state)).toEqual([
      {
        method: "PUT",
        path: `/api/schedules/${numberedSchedule(1).schedule_id}`,
        body: { title: "Plan number 1, moved", starts_at: "2026-12-08T19:30:00Z", expected_duration_minutes: null },
      },
    ]);
    await waitFor(() => expect(within(row(1)).getByTestId("schedule-title")).toHaveTextContent("Plan number 1, moved"));
    expect(within(row(1)).getByTestId("schedule-time")).toHaveTextContent("Tue, Dec 8, 2026, 2:30 PM EST");
    expect(within(row(1)).getByTestId("schedule-notice")).toHaveTextContent("Saved.");

    // Saving without a change sends nothing.
    await user.click(within(row(1)).getByRole("button", { name: "Change Plan number 1, moved" }));
    await user.click(within(row(1)).getByRole("button", { name: "Save changes" }));
    expect(writes(state)).toHaveLength(1);
  });

  it("says so when the entry can no longer be changed", async () => {
    const { state } = fakeServer([numberedSchedule(1, { starts_at: at(20) })]);
    const user = userEvent.setup();
    await openDashboard();
    await waitFor(() => expect(rows()).toHaveLength(1));
    await user.click(within(row(1)).getByTestId("schedule-edit"));
    // Meanwhile the creator went live from OBS.
    state.update = () => errorBody(409, "SCHEDULE_NOT_EDITABLE", "Only a schedule that has not started, ended or been cancelled can be changed");
    state.items = [numberedSchedule(1, { starts_at: at(20), status: "live", stream_id: "5e1f0c2a-0000-4000-8000-00000000c0c3" })];
    fireEvent.change(within(row(1)).getByLabelText("Title"), { target: { value: "New title" } });
    await user.click(within(row(1)).getByRole("button", { name: "Save changes" }));

    expect(await within(row(1)).findByTestId("schedule-notice")).toHaveTextContent("It can no longer be changed");
    await waitFor(() => expect(within(row(1)).getByTestId("schedule-status")).toHaveTextContent("Live now"));
    expect(within(row(1)).queryByTestId("schedule-edit-form")).not.toBeInTheDocument();
    expect(within(row(1)).queryByTestId("schedule-edit")).not.toBeInTheDocument();
  });

  it("cancels an entry after confirmation; it stays listed as cancelled", async () => {
    const { state } = fakeServer([numberedSchedule(1, { starts_at: at(300) }), numberedSchedule(2, { starts_at: at(600) })]);
    const user = userEvent.setup();
    await openDashboard();
    await waitFor(() => expect(rows()).toHaveLength(2));

    await user.click(within(row(1)).getByRole("button", { name: "Cancel Plan number 1" }));
    const confirm = within(row(1)).getByTestId("schedule-cancel-confirm");
    expect(confirm).toHaveTextContent("Cancel “Plan number 1”?");
    expect(within(confirm).getByRole("button", { name: "Keep it" })).toHaveFocus();
    await user.click(within(confirm).getByRole("button", { name: "Keep it" }));
    expect(within(row(1)).queryByTestId("schedule-cancel-confirm")).not.toBeInTheDocument();
    expect(writes(state)).toEqual([]);

    // Escape closes it too.
    await user.click(within(row(1)).getByTestId("schedule-cancel"));
    await user.keyboard("{Escape}");
    expect(within(row(1)).queryByTestId("schedule-cancel-confirm")).not.toBeInTheDocument();

    await user.click(within(row(1)).getByTestId("schedule-cancel"));
    await user.click(within(row(1)).getByRole("button", { name: "Yes, cancel it" }));
    await waitFor(() => expect(within(row(1)).getByTestId("schedule-status")).toHaveTextContent("Cancelled"));
    expect(writes(state)).toEqual([{ method: "DELETE", path: `/api/schedules/${numberedSchedule(1).schedule_id}`, body: null }]);
    expect(within(row(1)).queryByTestId("schedule-cancel-confirm")).not.toBeInTheDocument();
    expect(within(row(1)).queryByTestId("schedule-cancel")).not.toBeInTheDocument();
    expect(within(row(1)).queryByTestId("schedule-edit")).not.toBeInTheDocument();
    expect(within(row(2)).getByTestId("schedule-status")).toHaveTextContent("Scheduled");
  });

  it("shows why a cancel was refused", async () => {
    const { state } = fakeServer([makeSchedule({ starts_at: at(1) })]);
    const user = userEvent.setup();
    await openDashboard();
    const only = await screen.findByTestId("schedule-row");
    expect(only).toHaveAttribute("data-schedule-id", SCHEDULE_ID);
    await user.click(within(only).getByTestId("schedule-cancel"));
    state.cancel = () => errorBody(409, "SCHEDULE_NOT_CANCELLABLE", "A schedule that is live, done or already in the past cannot be cancelled");
    await user.click(within(only).getByRole("button", { name: "Yes, cancel it" }));
    expect(await within(only).findByTestId("schedule-cancel-error")).toHaveTextContent("It can no longer be cancelled");

    // A minute on, its time has come: no cancel offered any more.
    act(() => void vi.advanceTimersByTime(61_000));
    await waitFor(() => expect(within(screen.getByTestId("schedule-row")).queryByTestId("schedule-cancel")).not.toBeInTheDocument());
    expect(screen.getByTestId("schedule-row")).toHaveAttribute("data-phase", "starting");
  });

  it("shows an error when the schedule cannot be loaded", async () => {
    stubFetch({
      "GET /api/streams": () => json(200, page([])),
      "GET /api/users/me/stream-key": () => json(200, KEY),
      "GET /api/archives": () => json(200, { items: [], next_cursor: null }),
      "GET /api/schedules": () => errorBody(400, "VALIDATION_ERROR", "user_id is required: whose schedule?"),
    });
    renderApp("/dashboard");
    expect(await screen.findByTestId("schedule-load-error")).toHaveTextContent("user_id is required");
    // The form is still there.
    expect(within(screen.getByTestId("schedule-card")).getByTestId("schedule-form")).toBeInTheDocument();
  });
});
