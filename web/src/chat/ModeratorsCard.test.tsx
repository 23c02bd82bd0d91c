import { QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createQueryClient } from "../App";
import { resetSessionForTests, setAuthenticated } from "../auth/session";
import { bob, carol } from "../test/chat";
import { alice, errorBody, json, stubFetch } from "../test/http";
import { STREAM_ID } from "../test/streams";
import { ModeratorsCard } from "./ModeratorsCard";

const profile = (u: { user_id: string; username: string }) => ({
  ...u,
  display_name: null,
  bio: null,
  created_at: "2026-01-02T03:04:05Z",
  follower_count: 0,
  following_count: 0,
  viewer_follow_id: null,
});
const mod = (u: { user_id: string; username: string }) => ({ ...u, display_name: null, created_at: "2026-03-01T00:00:00Z" });

describe("moderators card", () => {
  beforeEach(() => {
    resetSessionForTests();
    setAuthenticated("token-a", alice);
  });
  afterEach(() => resetSessionForTests());

  it("lists moderators, adds one by username and removes one", async () => {
    let mods = [mod(bob)];
    const base = `/api/streams/${STREAM_ID}/moderators`;
    stubFetch({
      [`GET ${base}`]: () => json(200, { items: mods }),
      "GET /api/users/by-username/carol": () => json(200, profile(carol)),
      "GET /api/users/by-username/nobody": () => errorBody(404, "USER_NOT_FOUND", "User not found"),
      [`PUT ${base}/${carol.user_id}`]: () => {
        mods = [...mods, mod(carol)];
        return json(200, mod(carol));
      },
      [`DELETE ${base}/${bob.user_id}`]: () => {
        mods = mods.filter((m) => m.user_id !== bob.user_id);
        return json(204, null);
      },
    });
    const user = userEvent.setup();
    render(
      <QueryClientProvider client={createQueryClient()}>
        <ModeratorsCard streamId={STREAM_ID} ownUsername="alice" />
      </QueryClientProvider>,
    );
    expect(await screen.findByTestId("moderator")).toHaveTextContent("bob@bob");

    const field = screen.getByLabelText("Add a moderator");
    await user.type(field, "nobody{Enter}");
    expect(await screen.findByText("There is no user called “nobody”.")).toBeInTheDocument();
    await user.clear(field);
    await user.type(field, "alice{Enter}");
    expect(screen.getByText("You already run this chat.")).toBeInTheDocument();
    await user.clear(field);
    await user.type(field, "@carol{Enter}");
    await waitFor(() => expect(screen.getAllByTestId("moderator")).toHaveLength(2));
    expect(field).toHaveValue("");

    await user.click(within(screen.getAllByTestId("moderator")[0]!).getByRole("button", { name: "Remove bob as moderator" }));
    await waitFor(() => expect(screen.getAllByTestId("moderator").map((r) => r.textContent)).toEqual([expect.stringContaining("carol")]));
  });
});
