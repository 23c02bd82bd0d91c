// The tip_received notification: what it says, where it goes, and its switch in the settings.
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Notification, NotificationSettingsBody } from "../api/types";
import { resetSessionForTests, setAuthenticated } from "../auth/session";
import { describeNotification } from "../notifications/describe";
import { alice, json, stubFetch } from "../test/http";
import { makeSettings, minutesAgo, notifId, notifPage } from "../test/notifications";
import { renderApp } from "../test/render";
import { STREAM_ID } from "../test/streams";
import { TX_ID } from "../test/tips";

function tipReceived(n: number, payload: Record<string, unknown> = {}): Notification {
  return {
    notification_id: notifId(n),
    kind: "tip_received",
    payload: {
      transaction_id: TX_ID,
      amount: 500,
      currency: "JPY",
      message: "Great stream!",
      stream_id: STREAM_ID,
      sender: { user_id: "u-bob", username: "bob", display_name: "Bob the Streamer" },
      ...payload,
    },
    created_at: minutesAgo(n),
    read_at: null,
  };
}

describe("tip_received notifications", () => {
  beforeEach(() => {
    resetSessionForTests();
    setAuthenticated("token-a", alice);
  });
  afterEach(() => resetSessionForTests());

  it("says who tipped how much, with the message, and links to the earnings page", () => {
    expect(describeNotification(tipReceived(1), "alice")).toEqual({
      text: "Bob the Streamer tipped you ¥500: “Great stream!”",
      href: "/earnings",
    });
    expect(describeNotification(tipReceived(1, { amount: 1250, currency: "USD", message: null, sender: null }), "alice")).toEqual({
      text: "Someone tipped you $12.50",
      href: "/earnings",
    });
    // A payload missing its amount still says something true.
    expect(describeNotification(tipReceived(1, { amount: "lots" }), "alice").text).toBe("Bob the Streamer sent you a tip: “Great stream!”");
  });

  it("opens the earnings page from the notifications list", async () => {
    stubFetch({
      "GET /api/notifications/unread-count": () => json(200, { unread: 1 }),
      "GET /api/notifications": () => json(200, notifPage([tipReceived(1)])),
      "POST /api/notifications/read": () => json(200, { updated: 1 }),
      "PUT /api/notifications/read": () => json(200, { updated: 1 }),
    });
    renderApp("/notifications");
    const link = await screen.findByRole("link", { name: /Bob the Streamer tipped you ¥500/ });
    expect(link).toHaveAttribute("href", "/earnings");
  });

  it("has a 'Tips you receive' switch in the notification settings", async () => {
    let saved = makeSettings({ kinds: { ...makeSettings().kinds, tip_received: true } });
    const bodies: NotificationSettingsBody[] = [];
    stubFetch({
      "GET /api/notifications/unread-count": () => json(200, { unread: 0 }),
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
    const tips = await screen.findByRole("switch", { name: /Tips you receive/ });
    expect(tips).toBeChecked();
    await user.click(tips);
    await waitFor(() => expect(tips).not.toBeChecked());
    expect(bodies).toEqual([{ kinds: { tip_received: false } }]);
  });
});
