// Helpers for tests that stub the global fetch.
import { vi } from "vitest";

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

export function errorBody(status: number, code: string, error: string, extra: Record<string, unknown> = {}) {
  return json(status, { error, code, status, request_id: "req-test", title: code, detail: error, ...extra });
}

export const alice = {
  user_id: "7f3c2f0e-2b0b-4d6c-9a51-3e2f0c1d0a01",
  username: "alice",
  display_name: "Alice",
  bio: null,
  created_at: "2026-01-02T03:04:05Z",
  follower_count: 0,
  following_count: 0,
  viewer_follow_id: null,
  email: "alice@example.com",
  updated_at: "2026-01-02T03:04:05Z",
};

export function tokens(access: string) {
  return { access_token: access, token_type: "bearer", expires_in: 900, user: alice };
}

/** A fetch stub routed by "METHOD /path"; each handler gets the Request. Records every call. */
export function stubFetch(routes: Record<string, (req: Request) => Response | Promise<Response>>) {
  const calls: Request[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = input instanceof Request ? input : new Request(input, init);
    calls.push(req);
    const key = `${req.method} ${new URL(req.url).pathname}`;
    const handler = routes[key];
    if (!handler) throw new Error(`unexpected request ${key}`);
    return handler(req);
  });
  vi.stubGlobal("fetch", fetch);
  return { fetch, calls };
}
