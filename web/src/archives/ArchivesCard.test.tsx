// The creator's Archives card on the dashboard.
import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Archive } from "../api/archives";
import type { Stream } from "../api/types";
import { resetSessionForTests, setAuthenticated } from "../auth/session";
import { archiveFrame, archivePage, numberedArchive } from "../test/archives";
import { hello } from "../test/chat";
import { FakeWebSocket } from "../test/fakeWebSocket";
import { alice, errorBody, json, stubFetch } from "../test/http";
import { renderApp } from "../test/render";
import { makeHealth, makeStream, page, STREAM_ID } from "../test/streams";

const KEY = { stream_key: "live_sk_first_0123456789", rtmp_url: "rtmp://localhost/live", created_at: "2026-03-01T00:00:00Z" };

/** The dashboard's API with a list of archives the test changes at will. */
function fakeServer(initial: Archive[], { live = null as Stream | null } = {}) {
  const state = { archives: initial, live, retry: new Map<string, () => Response>(), remove: new Map<string, () => Response>() };
  const routes: Record<string, (req: Request) => Response | Promise<Response>> = {
    "GET /api/streams": () => json(200, page(state.live ? [state.live] : [])),
    "GET /api/users/me/stream-key": () => json(200, KEY),
    "GET /api/archives": (req) => {
      const q = new URL(req.url).searchParams;
      expect(q.get("user_id")).toBe(alice.user_id);
      expect(q.get("limit")).toBe("12");
      return json(200, archivePage(state.archives));
    },
    [`GET /api/streams/${STREAM_ID}/health`]: () => json(200, makeHealth()),
    [`GET /api/streams/${STREAM_ID}/moderators`]: () => json(200, { items: [] }),
    [`GET /api/streams/${STREAM_ID}/bans`]: () => json(200, { items: [] }),
    [`PUT /api/streams/${STREAM_ID}/end`]: () => {
      const ended = makeStream({ status: "ended", media_state: "ended", ended_at: "2026-03-04T21:05:00Z", hls_url: null, thumbnail_url: null });
      state.live = null;
      return json(200, ended);
    },
  };
  for (const archive of initial) {
    routes[`POST /api/archives/${archive.archive_id}/retry`] = () => state.retry.get(archive.archive_id)!();
    routes[`DELETE /api/archives/${archive.archive_id}`] = () => state.remove.get(archive.archive_id)!();
  }
  return { state, ...stubFetch(routes) };
}

const rows = () => screen.queryAllByTestId("archive-row");
const row = (n: number) => rows().find((r) => r.getAttribute("data-archive-id") === numberedArchive(n).archive_id)!;
const archiveCalls = (calls: Request[]) => calls.filter((c) => c.method === "GET" && new URL(c.url).pathname === "/api/archives").length;

describe("dashboard archives", () => {
  beforeEach(() => {
    resetSessionForTests();
    setAuthenticated("token-a", alice);
  });
  afterEach(() => {
    vi.useRealTimers();
    resetSessionForTests();
  });

  it("lists every archive with its status, length, size, failure reason and download", async () => {
    const { calls } = fakeServer([
      numberedArchive(4, { status: "processing", progress: 42, duration: 0, file_size: 0, hls_url: null, thumbnail_url: null }),
      numberedArchive(3, { status: "failed", failure_reason: "The recording could not be read.", duration: 0, file_size: 0, hls_url: null }),
      numberedArchive(2, { mp4_url: "http://localhost:3000/vod/2/download.mp4", file_size: 524_288_000, duration: 754 }),
      numberedArchive(1, { storage_class: "GLACIER" }),
    ]);
    renderApp("/dashboard");

    const card = await screen.findByTestId("archives");
    expect(within(card).getByRole("heading", { name: "Archives" })).toBeInTheDocument();
    await waitFor(() => expect(rows()).toHaveLength(4));
    expect(rows().map((r) => r.getAttribute("data-status"))).toEqual(["processing", "failed", "ready", "ready"]);
    const get = calls.find((c) => new URL(c.url).pathname === "/api/archives")!;
    expect(get.headers.get("Authorization")).toBe("Bearer token-a");

    const processing = row(4);
    expect(within(processing).getByTestId("archive-status")).toHaveTextContent("Processing");
    expect(within(processing).getByTestId("archive-progress")).toHaveAttribute("value", "42");
    expect(within(processing).getByTestId("archive-progress-text")).toHaveTextContent("Preparing the replay… 42 %");
    expect(within(processing).queryByTestId("archive-duration")).not.toBeInTheDocument();
    expect(within(processing).queryByTestId("archive-retry")).not.toBeInTheDocument();

    const failed = row(3);
    expect(within(failed).getByTestId("archive-status")).toHaveTextContent("Failed");
    expect(within(failed).getByTestId("archive-failure")).toHaveTextContent("The recording could not be read.");
    expect(within(failed).getByTestId("archive-retry")).toHaveTextContent("Retry");
    expect(within(failed).queryByTestId("archive-progress")).not.toBeInTheDocument();

    const ready = row(2);
    expect(within(ready).getByTestId("archive-status")).toHaveTextContent("Ready");
    expect(within(ready).getByTestId("archive-duration")).toHaveTextContent("0:12:34");
    expect(within(ready).getByTestId("archive-size")).toHaveTextContent("524.3 MB");
    const download = within(ready).getByTestId("archive-download");
    expect(download).toHaveAttribute("href", "http://localhost:3000/vod/2/download.mp4");
    expect(download).toHaveAttribute("download");
    expect(within(ready).getByTestId("archive-title")).toHaveAttribute("href", `/watch/${numberedArchive(2).stream_id}`);
    expect(within(ready).queryByTestId("archive-cold")).not.toBeInTheDocument();

    const cold = row(1);
    expect(within(cold).getByTestId("archive-duration")).toHaveTextContent("1:02:03");
    expect(within(cold).getByTestId("archive-size")).toHaveTextContent("1.25 GB");
    expect(within(cold).getByTestId("archive-cold")).toHaveTextContent("Cold storage");
    expect(within(cold).queryByTestId("archive-download")).not.toBeInTheDocument();
  });

  it("moves the progress bar with archive.status frames from the stream's socket, polling every 3 s while processing", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const processing = numberedArchive(7, { status: "processing", progress: 10, duration: 0, file_size: 0, hls_url: null, thumbnail_url: null });
    const { state, calls } = fakeServer([processing, numberedArchive(6)]);
    renderApp("/dashboard");

    await waitFor(() => expect(rows()).toHaveLength(2));
    const ws = FakeWebSocket.latest();
    expect(ws.url).toBe(`ws://localhost:3000/ws/streams/${processing.stream_id}`);
    ws.serverOpen();
    ws.serverSend(hello({ stream_id: processing.stream_id }));
    ws.serverSend(archiveFrame(processing, { progress: 60 }));
    await waitFor(() => expect(within(row(7)).getByTestId("archive-progress")).toHaveAttribute("value", "60"));
    expect(within(row(7)).getByTestId("archive-progress-text")).toHaveTextContent("60 %");

    // Polling as well, in case a frame is missed (the server's progress is the truth when it comes).
    const before = archiveCalls(calls);
    state.archives = [{ ...processing, progress: 75 }, numberedArchive(6)];
    await act(() => vi.advanceTimersByTimeAsync(3_100));
    expect(archiveCalls(calls)).toBe(before + 1);
    await waitFor(() => expect(within(row(7)).getByTestId("archive-progress")).toHaveAttribute("value", "75"));

    // Ready: fetched again for its length and size; nothing is processing, so no more polling or socket.
    state.archives = [numberedArchive(7, { file_size: 2_000_000_000 }), numberedArchive(6)];
    ws.serverSend(archiveFrame(processing, { status: "ready", progress: 100 }));
    await waitFor(() => expect(row(7)).toHaveAttribute("data-status", "ready"));
    expect(within(row(7)).getByTestId("archive-size")).toHaveTextContent("2.00 GB");
    expect(within(row(7)).getByTestId("archive-duration")).toHaveTextContent("1:02:03");
    await waitFor(() => expect(ws.closedWith).toBe(1000));
    const after = archiveCalls(calls);
    await act(() => vi.advanceTimersByTimeAsync(10_000));
    expect(archiveCalls(calls)).toBe(after);
  });

  it("shows a failure that arrives as a frame, with its reason and a Retry", async () => {
    const processing = numberedArchive(5, { status: "processing", progress: 80, duration: 0, file_size: 0, hls_url: null });
    const { state } = fakeServer([processing]);
    renderApp("/dashboard");
    await waitFor(() => expect(rows()).toHaveLength(1));
    const ws = FakeWebSocket.latest();
    ws.serverOpen();
    state.archives = [{ ...processing, status: "failed", failure_reason: "Storage is full." }];
    ws.serverSend(archiveFrame(processing, { status: "failed", progress: 80, failure_reason: "Storage is full." }));
    await waitFor(() => expect(row(5)).toHaveAttribute("data-status", "failed"));
    expect(within(row(5)).getByTestId("archive-failure")).toHaveTextContent("Storage is full.");
    expect(within(row(5)).getByTestId("archive-retry")).toBeEnabled();
  });

  it("retries a failed archive, and says so when the server answers that it is not failed (409)", async () => {
    const a = numberedArchive(2, { status: "failed", failure_reason: "Timed out.", hls_url: null });
    const b = numberedArchive(1, { status: "failed", failure_reason: "Timed out.", hls_url: null });
    const { state, calls } = fakeServer([a, b]);
    state.retry.set(a.archive_id, () => {
      const next = { ...a, status: "processing" as const, progress: 0, failure_reason: null };
      state.archives = [next, b];
      return json(202, next);
    });
    state.retry.set(b.archive_id, () => {
      // A worker picked it up meanwhile.
      state.archives = [state.archives[0]!, { ...b, status: "processing", progress: 30, failure_reason: null }];
      return errorBody(409, "ARCHIVE_NOT_FAILED", "The archive is not failed");
    });
    const user = userEvent.setup();
    renderApp("/dashboard");
    await waitFor(() => expect(rows()).toHaveLength(2));

    await user.click(within(row(2)).getByTestId("archive-retry"));
    await waitFor(() => expect(row(2)).toHaveAttribute("data-status", "processing"));
    expect(within(row(2)).getByTestId("archive-progress")).toHaveAttribute("value", "0");
    expect(within(row(2)).queryByTestId("archive-failure")).not.toBeInTheDocument();
    const post = calls.find((c) => c.method === "POST")!;
    expect(new URL(post.url).pathname).toBe(`/api/archives/${a.archive_id}/retry`);
    expect(post.headers.get("Authorization")).toBe("Bearer token-a");

    await user.click(within(row(1)).getByTestId("archive-retry"));
    expect(await within(row(1)).findByTestId("archive-retry-error")).toHaveTextContent("This archive is not failed any more");
    // …and the list shows what it is now.
    await waitFor(() => expect(row(1)).toHaveAttribute("data-status", "processing"));
    expect(within(row(1)).getByTestId("archive-progress")).toHaveAttribute("value", "30");
  });

  it("deletes after confirmation, and shows the server's refusal (403) without removing the archive", async () => {
    const a = numberedArchive(2);
    const b = numberedArchive(1);
    const { state, calls } = fakeServer([a, b]);
    state.remove.set(a.archive_id, () => {
      state.archives = [b];
      return json(204, null);
    });
    state.remove.set(b.archive_id, () => errorBody(403, "NOT_YOUR_ARCHIVE", "This archive is not yours"));
    const user = userEvent.setup();
    renderApp("/dashboard");
    await waitFor(() => expect(rows()).toHaveLength(2));

    // Cancel changes nothing.
    await user.click(within(row(2)).getByTestId("archive-delete"));
    const dialog = within(row(2)).getByRole("alertdialog");
    expect(dialog).toHaveAccessibleName("Delete the replay of “Stream number 2”?");
    expect(within(dialog).getByRole("button", { name: "Cancel" })).toHaveFocus();
    await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(within(row(2)).queryByRole("alertdialog")).not.toBeInTheDocument();
    // Escape too.
    await user.click(within(row(2)).getByTestId("archive-delete"));
    await user.keyboard("{Escape}");
    expect(within(row(2)).queryByRole("alertdialog")).not.toBeInTheDocument();
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);

    await user.click(within(row(2)).getByTestId("archive-delete"));
    await user.click(within(row(2)).getByRole("button", { name: "Yes, delete" }));
    await waitFor(() => expect(rows()).toHaveLength(1));
    const del = calls.find((c) => c.method === "DELETE")!;
    expect(new URL(del.url).pathname).toBe(`/api/archives/${a.archive_id}`);
    expect(del.headers.get("Authorization")).toBe("Bearer token-a");

    await user.click(within(row(1)).getByTestId("archive-delete"));
    await user.click(within(row(1)).getByRole("button", { name: "Yes, delete" }));
    expect(await within(row(1)).findByTestId("archive-delete-error")).toHaveTextContent("This archive is not yours");
    expect(rows()).toHaveLength(1);
    expect(within(row(1)).getByRole("alertdialog")).toBeInTheDocument();
  });

  it("says when there are no archives yet", async () => {
    fakeServer([]);
    renderApp("/dashboard");
    const card = await screen.findByTestId("archives");
    expect(await within(card).findByText("No archives yet.")).toBeInTheDocument();
    expect(FakeWebSocket.streamSockets()).toHaveLength(0); // nothing processing: no stream socket
  });

  it("looks for the archive of a stream that has just ended, on its socket and by polling", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const { state, calls } = fakeServer([], { live: makeStream({ title: "Live synth" }) });
    const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
    renderApp("/dashboard");
    const panel = await screen.findByTestId("live-panel");
    const card = screen.getByTestId("archives");
    expect(await within(card).findByText("No archives yet.")).toBeInTheDocument();

    await user.click(within(panel).getByTestId("end-stream"));
    await user.click(within(panel).getByRole("button", { name: "Yes, end stream" }));
    expect(await screen.findByTestId("go-live-form")).toBeInTheDocument();

    // The archive is made just after the end: the card asks again until it is listed…
    const before = archiveCalls(calls);
    await act(() => vi.advanceTimersByTimeAsync(3_100));
    expect(archiveCalls(calls)).toBeGreaterThan(before);
    // …and listens on the ended stream's socket, where a frame for a new archive brings the list at once.
    const [livePanelSocket, ws] = FakeWebSocket.streamSockets();
    expect(FakeWebSocket.streamSockets()).toHaveLength(2);
    expect(livePanelSocket!.closedWith).toBe(1000);
    expect(ws!.url).toBe(`ws://localhost:3000/ws/streams/${STREAM_ID}`);
    expect(ws!.closedWith).toBeNull();
    ws!.serverOpen();
    const made = numberedArchive(9, { stream_id: STREAM_ID, status: "processing", progress: 0, duration: 0, file_size: 0, hls_url: null });
    state.archives = [{ ...made, progress: 5 }];
    ws!.serverSend(archiveFrame(made, { progress: 5 }));
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(within(rows()[0]!).getByTestId("archive-progress")).toHaveAttribute("value", "5");
    expect(FakeWebSocket.streamSockets().at(-1)).toBe(ws); // the same channel: it is the stream being processed now
  });
});
