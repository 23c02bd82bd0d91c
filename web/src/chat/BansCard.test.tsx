import { QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createQueryClient } from "../App";
import { resetSessionForTests, setAuthenticated } from "../auth/session";
import { formatDateTime } from "../lib/format";
import { bob, carol } from "../test/chat";
import { alice, errorBody, json, stubFetch } from "../test/http";
import { STREAM_ID } from "../test/streams";
import { BansCard } from "./BansCard";

const UNTIL = "2026-03-04T21:15:00Z";
const ban = (u: { user_id: string; username: string }, extra: { reason?: string | null; expires_at?: string | null } = {}) => ({
  ...u,
  display_name: null,
  reason: null,
  created_at: "2026-03-04T21:05:00Z",
  expires_at: null,
  ...extra,
});

function renderCard() {
  return render(
    <QueryClientProvider client={createQueryClient()}>
      <BansCard streamId={STREAM_ID} />
    </QueryClientProvider>,
  );
}

describe("bans card", () => {
  const base = `/api/streams/${STREAM_ID}/bans`;
  beforeEach(() => {
    resetSessionForTests();
    setAuthenticated("token-a", alice);
  });
  afterEach(() => resetSessionForTests());

  it("lists bans and timeouts, and lifts one", async () => {
    let bans = [ban(bob, { reason: "spam" }), ban(carol, { expires_at: UNTIL })];
    const { calls } = stubFetch({
      [`GET ${base}`]: () => json(200, { items: bans }),
      [`DELETE ${base}/${bob.user_id}`]: () => {
        bans = bans.filter((b) => b.user_id !== bob.user_id);
        return json(204, null);
      },
      [`DELETE ${base}/${carol.user_id}`]: () => {
        bans = bans.filter((b) => b.user_id !== carol.user_id);
        return json(204, null);
      },
    });
    const user = userEvent.setup();
    renderCard();

    const list = await screen.findByRole("list", { name: "Banned and timed-out viewers" });
    const rows = within(list).getAllByTestId("ban");
    expect(rows).toHaveLength(2);
    expect(rows[0]).toHaveTextContent("bob@bob");
    expect(within(rows[0]!).getByTestId("ban-expiry")).toHaveTextContent("Permanent");
    expect(rows[0]).toHaveTextContent("spam");
    expect(within(rows[1]!).getByTestId("ban-expiry")).toHaveTextContent(`until ${formatDateTime(UNTIL)}`);
    expect(within(rows[1]!).getByText(formatDateTime(UNTIL))).toHaveAttribute("datetime", UNTIL);

    await user.click(within(rows[0]!).getByRole("button", { name: "Lift ban on bob" }));
    await waitFor(() => expect(screen.getAllByTestId("ban").map((r) => r.textContent)).toEqual([expect.stringContaining("carol")]));
    const del = calls.find((c) => c.method === "DELETE")!;
    expect(new URL(del.url).pathname).toBe(`${base}/${bob.user_id}`);
    expect(del.headers.get("Authorization")).toBe("Bearer token-a");
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();

    // Lifting the last one leaves the empty state.
    await user.click(screen.getByRole("button", { name: "Lift ban on carol" }));
    expect(await screen.findByText("Nobody is banned.")).toBeInTheDocument();
  });

  it("says when nobody is banned", async () => {
    stubFetch({ [`GET ${base}`]: () => json(200, { items: [] }) });
    renderCard();
    expect(await screen.findByText("Nobody is banned.")).toBeInTheDocument();
    expect(screen.queryByTestId("ban")).not.toBeInTheDocument();
  });

  it("shows errors inline: loading the list, and lifting a ban", async () => {
    stubFetch({ [`GET ${base}`]: () => errorBody(403, "NOT_A_MODERATOR", "Only the creator and moderators can do this") });
    const { unmount } = renderCard();
    expect(await screen.findByRole("alert")).toHaveTextContent("Only the creator and moderators can do this");
    unmount();

    stubFetch({
      [`GET ${base}`]: () => json(200, { items: [ban(bob)] }),
      [`DELETE ${base}/${bob.user_id}`]: () => errorBody(403, "NOT_A_MODERATOR", "You are no longer a moderator"),
    });
    const user = userEvent.setup();
    renderCard();
    await user.click(await screen.findByRole("button", { name: "Lift ban on bob" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("You are no longer a moderator");
    expect(screen.getByTestId("ban")).toHaveTextContent("bob");
  });

  it("treats a ban that already ended as lifted", async () => {
    let bans = [ban(bob, { expires_at: UNTIL })];
    stubFetch({
      [`GET ${base}`]: () => json(200, { items: bans }),
      [`DELETE ${base}/${bob.user_id}`]: () => {
        bans = [];
        return errorBody(404, "BAN_NOT_FOUND", "This user is not banned");
      },
    });
    const user = userEvent.setup();
    renderCard();
    await user.click(await screen.findByRole("button", { name: "Lift ban on bob" }));
    expect(await screen.findByText("Nobody is banned.")).toBeInTheDocument();
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });
});
