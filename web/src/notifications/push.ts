// Browser push for this browser: the service worker (public/sw.js), the permission prompt, the
// PushManager subscription, and telling the server (POST/DELETE /api/push-subscriptions).
//
// Nothing here is React: the settings page calls these and shows what they return. Every browser API
// is looked up when called, never at import, so a browser without them (or a test) can still load it.
import { api, unwrap } from "../api/client";

export const SERVICE_WORKER_URL = "/sw.js";

/** What this browser can do: push works, the user blocked it for this site, or the browser has no push. */
export type PushSupport = "available" | "blocked" | "unsupported";

/** The outcome of switching push on here. "dismissed": the prompt was closed without an answer. */
export type EnableResult = "subscribed" | "blocked" | "dismissed" | "unsupported";

export function pushSupport(): PushSupport {
  if (typeof window === "undefined" || typeof navigator === "undefined") return "unsupported";
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return "unsupported";
  return window.Notification.permission === "denied" ? "blocked" : "available";
}

/** The base64url applicationServerKey as the bytes PushManager.subscribe takes. */
export function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4);
  const raw = atob(base64);
  const bytes = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

function sameKey(current: ArrayBuffer | null | undefined, wanted: Uint8Array): boolean {
  if (!current) return false;
  const have = new Uint8Array(current);
  return have.length === wanted.length && have.every((b, i) => b === wanted[i]);
}

async function registration(): Promise<ServiceWorkerRegistration> {
  await navigator.serviceWorker.register(SERVICE_WORKER_URL, { scope: "/" });
  return navigator.serviceWorker.ready;
}

/**
 * This browser's subscription for the server's current key: the existing one when it was made for that
 * key, else a new one (an old one made for a key the operator rotated away is dropped first).
 */
async function subscription(reg: ServiceWorkerRegistration): Promise<PushSubscription> {
  const { public_key } = await unwrap(api.GET("/api/push/vapid-public-key"));
  const key = keyBytes(public_key);
  const existing = await reg.pushManager.getSubscription();
  if (existing && sameKey(existing.options?.applicationServerKey, key)) return existing;
  if (existing) await existing.unsubscribe();
  return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
}

async function register(sub: PushSubscription): Promise<void> {
  const json = sub.toJSON();
  await unwrap(
    api.POST("/api/push-subscriptions", {
      body: {
        endpoint: json.endpoint ?? sub.endpoint,
        keys: { p256dh: json.keys?.p256dh ?? "", auth: json.keys?.auth ?? "" },
      },
    }),
  );
}

/** Ask for permission (the browser's prompt), subscribe, and give the server this browser's subscription. */
export async function enablePush(): Promise<EnableResult> {
  const support = pushSupport();
  if (support !== "available") return support;
  const permission = await window.Notification.requestPermission();
  if (permission === "denied") return "blocked";
  if (permission !== "granted") return "dismissed";
  await register(await subscription(await registration()));
  return "subscribed";
}

/** Unsubscribe this browser and tell the server (a subscription it no longer has is fine). */
export async function disablePush(): Promise<void> {
  if (pushSupport() === "unsupported") return;
  const reg = await navigator.serviceWorker.getRegistration(SERVICE_WORKER_URL);
  const sub = reg ? await reg.pushManager.getSubscription() : null;
  if (!sub) return;
  const endpoint = sub.endpoint;
  await sub.unsubscribe();
  const { response } = await api.DELETE("/api/push-subscriptions", { body: { endpoint } });
  if (!response.ok && response.status !== 404) throw new Error(`Could not remove this browser (${response.status})`);
}

/**
 * With push on and permission granted, make sure the server has this browser's subscription for its
 * current key (a rotated key, or a subscription the browser renewed). Never prompts.
 */
export async function syncPush(): Promise<boolean> {
  if (pushSupport() !== "available" || window.Notification.permission !== "granted") return false;
  const reg = await navigator.serviceWorker.getRegistration(SERVICE_WORKER_URL);
  if (!reg || !(await reg.pushManager.getSubscription())) return false;
  await register(await subscription(reg));
  return true;
}
