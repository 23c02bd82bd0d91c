// Settings → Notifications.
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
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
    expect(delivery).toHaveTextContent("Browser push is not available on this server");
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

  it("says to confirm the address first, with the resend action, and keeps the email switch usable", async () => {
    setAuthenticated("token-a", { ...alice, email_verified: false });
    const { calls } = stubFetch({
      ...unread,
      "GET /api/users/me/notification-settings": () =>
        json(200, makeSettings({ email_available: true, email_verified: false })),
      "PUT /api/users/me/notification-settings": () =>
        json(200, makeSettings({ email_available: true, email_verified: false, email: true })),
      "POST /api/auth/verify-email/resend": () => json(202, { status: "accepted", message: "sent" }),
    });
    const user = userEvent.setup();
    renderApp("/settings/notifications");
    const delivery = await screen.findByTestId("notification-delivery");
    expect(delivery).toHaveTextContent("Confirm your email address first: emails start once it is confirmed");
    const email = within(delivery).getByTestId("delivery-email");
    expect(email).toBeEnabled();
    await user.click(email);
    await waitFor(() => expect(email).toBeChecked());
    await user.click(within(delivery).getByRole("button", { name: "Send me a confirmation link" }));
    expect(await within(delivery).findByText(/We have sent a new link/)).toBeInTheDocument();
    expect(calls.filter((c) => c.url.includes("/verify-email/resend"))).toHaveLength(1);
  });

  it("says nothing about confirming once the address is confirmed", async () => {
    stubFetch({
      ...unread,
      "GET /api/users/me/notification-settings": () => json(200, makeSettings({ email_available: true })),
    });
    renderApp("/settings/notifications");
    const delivery = await screen.findByTestId("notification-delivery");
    expect(within(delivery).getByTestId("delivery-email")).toBeEnabled();
    expect(delivery).not.toHaveTextContent("Confirm your email address first");
    expect(within(delivery).queryByTestId("verify-email-hint")).toBeNull();
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

// --- browser push, with fake service worker, PushManager and Notification APIs ------------------------------

const VAPID_KEY = "BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U";
const ENDPOINT = "https://push.example.com/send/abc";

interface FakeSubscription {
  endpoint: string;
  options: { applicationServerKey: ArrayBuffer | null };
  toJSON: () => PushSubscriptionJSON;
  unsubscribe: ReturnType<typeof vi.fn>;
}

function fakeBrowser(opts: {
  permission?: NotificationPermission;
  answer?: NotificationPermission;
  subscribedWith?: string | null;
}) {
  let current: FakeSubscription | null = null;
  const make = (key: ArrayBuffer | null): FakeSubscription => {
    const made: FakeSubscription = {
      endpoint: ENDPOINT,
      options: { applicationServerKey: key },
      toJSON: () => ({ endpoint: ENDPOINT, expirationTime: null, keys: { p256dh: "BP256", auth: "AUTH" } }),
      unsubscribe: vi.fn(async () => {
        current = null;
        return true;
      }),
    };
    return made;
  };
  const pushManager = {
    getSubscription: vi.fn(async () => current),
    subscribe: vi.fn(async (options: PushSubscriptionOptionsInit) => {
      current = make((options.applicationServerKey as Uint8Array).slice().buffer);
      return current;
    }),
  };
  const registration = { pushManager };
  const serviceWorker = {
    register: vi.fn(async () => registration),
    ready: Promise.resolve(registration),
    getRegistration: vi.fn(async () => registration),
  };
  Object.defineProperty(navigator, "serviceWorker", { value: serviceWorker, configurable: true });
  vi.stubGlobal("PushManager", function PushManager() {});
  const notification = {
    permission: opts.permission ?? "default",
    requestPermission: vi.fn(async () => {
      notification.permission = opts.answer ?? "granted";
      return notification.permission;
    }),
  };
  vi.stubGlobal("Notification", notification);
  if (opts.subscribedWith !== undefined && opts.subscribedWith !== null) {
    const bytes = Uint8Array.from(atob(opts.subscribedWith.replace(/-/g, "+").replace(/_/g, "/") + "="), (c) => c.charCodeAt(0));
    current = make(bytes.buffer);
  }
  return { serviceWorker, pushManager, notification, current: () => current };
}

function pushRoutes(saved: { push: boolean; puts?: NotificationSettingsBody[] }) {
  return {
    ...unread,
    "GET /api/users/me/notification-settings": () => json(200, makeSettings({ push_available: true, push: saved.push })),
    "PUT /api/users/me/notification-settings": async (req: Request) => {
      const body = (await req.json()) as NotificationSettingsBody;
      (saved.puts ??= []).push(body);
      saved.push = body.push ?? saved.push;
      return json(200, makeSettings({ push_available: true, push: saved.push }));
    },
    "GET /api/push/vapid-public-key": () => json(200, { public_key: VAPID_KEY }),
    "POST /api/push-subscriptions": () => json(201, { subscription_id: "s-1", endpoint: ENDPOINT, created_at: "2026-01-02T03:04:05Z" }),
    "DELETE /api/push-subscriptions": () => new Response(null, { status: 204 }),
  };
}

describe("browser push", () => {
  beforeEach(() => {
    resetSessionForTests();
    setAuthenticated("token-a", alice);
  });
  afterEach(() => {
    resetSessionForTests();
    vi.unstubAllGlobals();
    delete (navigator as { serviceWorker?: unknown }).serviceWorker;
  });

  it("says so, and keeps the switch off, in a browser without push", async () => {
    stubFetch(pushRoutes({ push: false }));
    renderApp("/settings/notifications");
    const push = await screen.findByTestId("delivery-push");
    expect(push).toBeDisabled();
    expect(screen.getByTestId("notification-delivery")).toHaveTextContent("This browser cannot receive push notifications");
  });

  it("says how to unblock it when notifications are blocked for the site", async () => {
    fakeBrowser({ permission: "denied" });
    stubFetch(pushRoutes({ push: false }));
    renderApp("/settings/notifications");
    const push = await screen.findByTestId("delivery-push");
    expect(push).toBeDisabled();
    expect(screen.getByTestId("notification-delivery")).toHaveTextContent(
      "Blocked in this browser: allow notifications for this site",
    );
  });

  it("asks permission, subscribes with the server's key and sends the subscription", async () => {
    const browser = fakeBrowser({ permission: "default", answer: "granted" });
    const saved: { push: boolean; puts?: NotificationSettingsBody[] } = { push: false };
    const { calls } = stubFetch(pushRoutes(saved));
    const user = userEvent.setup();
    renderApp("/settings/notifications");
    const push = await screen.findByTestId("delivery-push");
    expect(push).toBeEnabled();
    await user.click(push);
    await waitFor(() => expect(push).toBeChecked());

    expect(browser.notification.requestPermission).toHaveBeenCalledTimes(1);
    expect(browser.serviceWorker.register).toHaveBeenCalledWith("/sw.js", { scope: "/" });
    const options = browser.pushManager.subscribe.mock.calls[0]![0] as PushSubscriptionOptionsInit;
    expect(options.userVisibleOnly).toBe(true);
    const key = options.applicationServerKey as Uint8Array;
    expect(key).toHaveLength(65);
    expect(key[0]).toBe(4);
    const posted = calls.find((c) => c.method === "POST" && c.url.endsWith("/api/push-subscriptions"))!;
    expect(await posted.clone().json()).toEqual({ endpoint: ENDPOINT, keys: { p256dh: "BP256", auth: "AUTH" } });
    expect(saved.puts).toEqual([{ push: true }]);
    expect(screen.queryByRole("alert")).not.toBeInTheDocument();
  });

  it("stays off and says why when the prompt is answered with Block", async () => {
    const browser = fakeBrowser({ permission: "default", answer: "denied" });
    const { calls } = stubFetch(pushRoutes({ push: false }));
    const user = userEvent.setup();
    renderApp("/settings/notifications");
    const push = await screen.findByTestId("delivery-push");
    await user.click(push);
    expect(await screen.findByRole("alert")).toHaveTextContent("Notifications are blocked for this site");
    expect(push).not.toBeChecked();
    expect(browser.pushManager.subscribe).not.toHaveBeenCalled();
    expect(calls.some((c) => c.method === "PUT" || c.method === "POST")).toBe(false);
  });

  it("unsubscribes this browser and tells the server when switched off", async () => {
    const browser = fakeBrowser({ permission: "granted", subscribedWith: VAPID_KEY });
    const subscribed = browser.current()!;
    const saved: { push: boolean; puts?: NotificationSettingsBody[] } = { push: true };
    const { calls } = stubFetch(pushRoutes(saved));
    const user = userEvent.setup();
    renderApp("/settings/notifications");
    const push = await screen.findByTestId("delivery-push");
    await waitFor(() => expect(push).toBeChecked());
    // On load with push on, the existing subscription (made for this key) is sent again, not replaced.
    await waitFor(() => expect(calls.some((c) => c.method === "POST")).toBe(true));
    expect(browser.pushManager.subscribe).not.toHaveBeenCalled();

    await user.click(push);
    await waitFor(() => expect(push).not.toBeChecked());
    await waitFor(() => expect(calls.some((c) => c.method === "DELETE")).toBe(true));
    expect(subscribed.unsubscribe).toHaveBeenCalledTimes(1);
    const deleted = calls.find((c) => c.method === "DELETE")!;
    expect(await deleted.clone().json()).toEqual({ endpoint: ENDPOINT });
    expect(saved.puts).toEqual([{ push: false }]);
  });

  it("subscribes again when the server's key changed (the operator rotated it)", async () => {
    const browser = fakeBrowser({ permission: "granted", subscribedWith: "BAAA" + VAPID_KEY.slice(4) });
    const old = browser.current()!;
    stubFetch(pushRoutes({ push: true }));
    renderApp("/settings/notifications");
    await waitFor(() => expect(browser.pushManager.subscribe).toHaveBeenCalledTimes(1));
    expect(old.unsubscribe).toHaveBeenCalledTimes(1);
  });
});
