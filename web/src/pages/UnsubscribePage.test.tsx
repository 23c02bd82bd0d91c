// The unsubscribe page of notification emails: signed out, nothing sent until the click.
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resetSessionForTests } from "../auth/session";
import { errorBody, json, stubFetch } from "../test/http";
import { renderApp } from "../test/render";

const TOKEN = `${"a".repeat(32)}.${"b".repeat(64)}`;
const unsubscribeCalls = (calls: Request[]) =>
  calls.filter((c) => c.method === "POST" && new URL(c.url).pathname === "/api/notifications/unsubscribe");

describe("unsubscribe page", () => {
  beforeEach(() => resetSessionForTests());
  afterEach(() => resetSessionForTests());

  it("asks first, then turns emails off with the token and says for which account", async () => {
    const { calls } = stubFetch({
      "POST /api/notifications/unsubscribe": () => json(200, { email: false, username: "alice" }),
    });
    const user = userEvent.setup();
    renderApp(`/unsubscribe?token=${TOKEN}`);
    const button = await screen.findByRole("button", { name: "Unsubscribe from emails" });
    // Opening the link (a mail scanner does) changes nothing.
    expect(unsubscribeCalls(calls)).toHaveLength(0);
    await user.click(button);
    expect(await screen.findByTestId("unsubscribe-done")).toHaveTextContent("@alice will get no more notification emails");
    const sent = unsubscribeCalls(calls);
    expect(sent).toHaveLength(1);
    expect(await sent[0]!.clone().json()).toEqual({ token: TOKEN });
    expect(screen.getByRole("link", { name: "notification settings" })).toHaveAttribute("href", "/settings/notifications");
  });

  it("says when the link is not valid", async () => {
    stubFetch({
      "POST /api/notifications/unsubscribe": () =>
        errorBody(400, "UNSUBSCRIBE_TOKEN_INVALID", "This unsubscribe link is not valid"),
    });
    const user = userEvent.setup();
    renderApp(`/unsubscribe?token=forged`);
    await user.click(await screen.findByRole("button", { name: "Unsubscribe from emails" }));
    await waitFor(() => expect(screen.getByTestId("form-error")).toHaveTextContent("This unsubscribe link is not valid"));
    expect(screen.queryByTestId("unsubscribe-done")).not.toBeInTheDocument();
  });

  it("without a token, offers nothing to click", async () => {
    const { calls } = stubFetch({});
    renderApp("/unsubscribe");
    expect(await screen.findByTestId("form-error")).toHaveTextContent("This unsubscribe link is incomplete");
    expect(screen.queryByRole("button", { name: "Unsubscribe from emails" })).not.toBeInTheDocument();
    expect(unsubscribeCalls(calls)).toHaveLength(0);
  });
});
