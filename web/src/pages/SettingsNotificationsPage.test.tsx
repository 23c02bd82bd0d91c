// Settings → Notifications.
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { NotificationSettingsBody } from "../api/types";
import { resetSessionForTests, setAuthenticated } from "../auth/session";
import { alice, errorBody, json, stubFetch } from "../test/http";
import { makeSettings } from "../test/notifications";
import { renderApp } from "../test/render";

const unread = { "GET /api/notifications/unread-count": () => json(200, { unread: 0 }) };

describe("notification settings", () => {
  beforeEach(() => {
    resetSessionForTests();
    setAuthenticated("token-a", alice);
  });
  afterEach(() => resetSessionForTests());

  it("is linked from the settings page", async () => {
    stubFetch({ ...unread, "GET /api/users/me/notification-settings": () => json(200, makeSettings()) });
    const user = userEvent.setup();
    const { router } = renderApp("/settings/profile");
    await user.click(await screen.findByRole("link", { name: "Notification settings" }));
    expect(router.state.location.pathname).toBe("/settings/notifications");
    expect(await screen.findByRole("heading", { name: "Notification settings" })).toBeInTheDocument();
  });

  it("switches one kind with a partial PUT", async () => {
    let saved = makeSettings();
    const bodies: NotificationSettingsBody[] = [];
    stubFetch({
      ...unread,
      "GET /api/users/me/notification-settings": () => json(200, saved),
      "PUT /api/users/me/notification-settings": async (req) => {
        const body = (await req.json()) as NotificationSettingsBody;
        bodies.push(body);
        saved = { ...saved, kinds: { ...saved.kinds, ...(body.kinds as object) } };
        return json(200, saved);
      },
    });
    const user = userEvent.setup();
    renderApp("/settings/notifications");
    const live = await screen.findByRole("switch", { name: /Someone you follow goes live/ });
    expect(live).toBeChecked();
    await user.click(live);
    await waitFor(() => expect(live).not.toBeChecked());
    await user.click(screen.getByRole("switch", { name: /New followers/ }));
    await waitFor(() => expect(screen.getByRole("switch", { name: /New followers/ })).not.toBeChecked());

    expect(bodies).toEqual([
      { kinds: { stream_started: false } },
      { kinds: { new_follower: false } },
    ]);
    expect(screen.getByRole("switch", { name: /Your replay is ready/ })).toBeChecked();
  });

  it("shows email and push disabled, with why, when the server cannot send them", async () => {
    stubFetch({ ...unread, "GET /api/users/me/notification-settings": () => json(200, makeSettings()) });
    renderApp("/settings/notifications");
    const delivery = await screen.findByTestId("notification-delivery");
    expect(within(delivery).getByTestId("delivery-email")).toBeDisabled();
    expect(within(delivery).getByTestId("delivery-push")).toBeDisabled();
    expect(delivery).toHaveTextContent("Email delivery is not set up on this server");
    expect(delivery).toHaveTextContent("Browser push is not available yet");
  });

  it("lets email be switched when the server can send it", async () => {
    const { calls } = stubFetch({
      ...unread,
      "GET /api/users/me/notification-settings": () => json(200, makeSettings({ email_available: true })),
      "PUT /api/users/me/notification-settings": () => json(200, makeSettings({ email_available: true, email: true })),
    });
    const user = userEvent.setup();
    renderApp("/settings/notifications");
    const email = await screen.findByTestId("delivery-email");
    expect(email).toBeEnabled();
    expect(screen.getByTestId("notification-delivery")).not.toHaveTextContent("Email delivery is not set up");
    expect(screen.getByTestId("delivery-push")).toBeDisabled();
    await user.click(email);
    await waitFor(() => expect(email).toBeChecked());
    expect(await calls.find((c) => c.method === "PUT")!.clone().json()).toEqual({ email: true });
  });

  it("puts a switch back and says why when saving fails", async () => {
    stubFetch({
      ...unread,
      "GET /api/users/me/notification-settings": () => json(200, makeSettings()),
      "PUT /api/users/me/notification-settings": () => errorBody(400, "VALIDATION_ERROR", "kinds is invalid"),
    });
    const user = userEvent.setup();
    renderApp("/settings/notifications");
    const live = await screen.findByRole("switch", { name: /Someone you follow goes live/ });
    await user.click(live);
    expect(await screen.findByRole("alert")).toHaveTextContent("Could not save: kinds is invalid");
    expect(live).toBeChecked();
  });

  it("says what went wrong when the settings cannot be loaded", async () => {
    stubFetch({
      ...unread,
      "GET /api/users/me/notification-settings": () => errorBody(404, "NOT_FOUND", "No settings here."),
    });
    renderApp("/settings/notifications");
    expect(await screen.findByRole("alert")).toHaveTextContent("No settings here.");
    expect(screen.queryByRole("switch")).not.toBeInTheDocument();
  });
});
