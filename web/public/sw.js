// The service worker for browser push: shows each push the server sends (a small JSON: title, body,
// url, tag, decrypted by the browser); a click focuses a tab already showing its page, else opens a new one.
// Nothing else: no caching, no fetch handler.

const FALLBACK = { title: "LiveStream Pro", body: "", url: "/notifications", tag: undefined };

function sameOrigin(url) {
  try {
    const target = new URL(url, self.location.origin);
    return target.origin === self.location.origin ? target.href : new URL("/notifications", self.location.origin).href;
  } catch {
    return new URL("/notifications", self.location.origin).href;
  }
}

function readPush(event) {
  if (!event.data) return FALLBACK;
  try {
    const data = event.data.json();
    return {
      title: typeof data.title === "string" && data.title ? data.title : FALLBACK.title,
      body: typeof data.body === "string" ? data.body : "",
      url: typeof data.url === "string" ? data.url : FALLBACK.url,
      tag: typeof data.tag === "string" ? data.tag : undefined,
    };
  } catch {
    return FALLBACK;
  }
}

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  const message = readPush(event);
  event.waitUntil(
    self.registration.showNotification(message.title, {
      body: message.body,
      tag: message.tag,
      icon: "/favicon.svg",
      data: { url: sameOrigin(message.url) },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || sameOrigin("/notifications");
  event.waitUntil(
    (async () => {
      const open = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      for (const client of open) {
        if (client.url === url && "focus" in client) return client.focus();
      }
      // A new tab rather than navigating one the user has open: it may hold unsaved edits or a stream being watched.
      return self.clients.openWindow(url);
    })(),
  );
});
