// The service worker (public/sw.js), run against a stand-in for its global scope.
import { describe, expect, it, vi } from "vitest";
import source from "../../public/sw.js?raw";

const ORIGIN = "https://live.example.com";

type Listener = (event: unknown) => void;

interface FakeClient {
  url: string;
  focus: ReturnType<typeof vi.fn>;
  navigate: ReturnType<typeof vi.fn>;
}

function tab(url: string): FakeClient {
  const client: FakeClient = { url, focus: vi.fn(), navigate: vi.fn() };
  client.focus.mockResolvedValue(client);
  return client;
}

function worker(open: FakeClient[]) {
  const listeners = new Map<string, Listener>();
  const scope = {
    location: { origin: ORIGIN },
    addEventListener: (type: string, listener: Listener) => listeners.set(type, listener),
    skipWaiting: vi.fn(),
    clients: {
      claim: vi.fn(),
      matchAll: vi.fn().mockResolvedValue(open),
      openWindow: vi.fn().mockResolvedValue(null),
    },
    registration: { showNotification: vi.fn().mockResolvedValue(undefined) },
  };
  new Function("self", source)(scope);
  const fire = async (type: string, event: object): Promise<void> => {
    let pending: Promise<unknown> = Promise.resolve();
    listeners.get(type)?.({ ...event, waitUntil: (p: Promise<unknown>) => (pending = p) });
    await pending;
  };
  return { scope, fire };
}

function click(url: string) {
  return { notification: { close: vi.fn(), data: { url } } };
}

describe("service worker", () => {
  it("focuses a tab that already shows the page", async () => {
    const dashboard = tab(`${ORIGIN}/dashboard`);
    const watching = tab(`${ORIGIN}/watch/s1`);
    const { scope, fire } = worker([dashboard, watching]);
    const event = click(`${ORIGIN}/watch/s1`);
    await fire("notificationclick", event);
    expect(event.notification.close).toHaveBeenCalled();
    expect(watching.focus).toHaveBeenCalled();
    expect(dashboard.focus).not.toHaveBeenCalled();
    expect(scope.clients.openWindow).not.toHaveBeenCalled();
  });

  it("opens a new tab rather than navigating one the user has open", async () => {
    const dashboard = tab(`${ORIGIN}/dashboard`);
    const watching = tab(`${ORIGIN}/watch/other`);
    const { scope, fire } = worker([dashboard, watching]);
    await fire("notificationclick", click(`${ORIGIN}/watch/s1`));
    expect(scope.clients.openWindow).toHaveBeenCalledWith(`${ORIGIN}/watch/s1`);
    for (const client of [dashboard, watching]) {
      expect(client.navigate).not.toHaveBeenCalled();
      expect(client.focus).not.toHaveBeenCalled();
    }
  });

  it("shows a push and keeps its link on this site", async () => {
    const { scope, fire } = worker([]);
    const push = (data: object) => ({ data: { json: () => data } });
    await fire("push", push({ title: "Ada is live", body: "Live now", url: "/watch/s1", tag: "t" }));
    await fire("push", push({ title: "x", url: "https://evil.example/phish" }));
    const shown = scope.registration.showNotification.mock.calls as [string, { data: { url: string } }][];
    expect(shown.map(([title]) => title)).toEqual(["Ada is live", "x"]);
    expect(shown[0]?.[1]).toMatchObject({ body: "Live now", tag: "t", data: { url: `${ORIGIN}/watch/s1` } });
    expect(shown[1]?.[1].data.url).toBe(`${ORIGIN}/notifications`);
  });
});
