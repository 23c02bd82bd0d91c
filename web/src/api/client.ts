// The typed API client (openapi-fetch over the generated schema). Every call carries the in-memory
// access token; a 401 triggers one refresh through the HttpOnly cookie and one retry.
import createClient from "openapi-fetch";
import type { paths } from "./schema";
import { parseApiError } from "./errors";
import { clearSession, getAccessToken, setAuthenticated } from "../auth/session";

/** Calls whose 401 means "wrong credentials / no session", never "token expired". */
const NO_REFRESH_PATHS = new Set(["/api/auth/login", "/api/auth/register", "/api/auth/refresh"]);

function withToken(request: Request, token: string | null): Request {
  if (token) request.headers.set("Authorization", `Bearer ${token}`);
  return request;
}

async function authFetch(request: Request): Promise<Response> {
  const path = new URL(request.url).pathname;
  const retry = NO_REFRESH_PATHS.has(path) ? null : request.clone();
  const sentToken = getAccessToken();
  const response = await globalThis.fetch(withToken(request, sentToken));
  if (response.status !== 401 || retry === null) return response;

  // Another call may already have refreshed while this one was in flight.
  const current = getAccessToken();
  const refreshed = current !== null && current !== sentToken ? true : await refreshSession();
  if (!refreshed) return response;
  return globalThis.fetch(withToken(retry, getAccessToken()));
}

export const api = createClient<paths>({
  // Same origin as the page; an absolute URL keeps Request() happy outside a browser too.
  baseUrl: globalThis.location?.origin ?? "",
  credentials: "same-origin",
  fetch: authFetch,
});

let refreshing: Promise<boolean> | null = null;

/**
 * Exchange the refresh cookie for a new access token. Concurrent callers share one request (the
 * server rotates the refresh token, so two parallel refreshes would race). Resolves false and
 * signs out when there is no valid cookie.
 */
export function refreshSession(): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const { data, response } = await api.POST("/api/auth/refresh");
      if (response.ok && data) {
        setAuthenticated(data.access_token, data.user);
        return true;
      }
    } catch {
      // Network failure: treat as signed out; the next call can try again.
    }
    clearSession();
    return false;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

type FetchResult = { data?: unknown; error?: unknown; response: Response };

/** The data of a successful call, or an ApiError built from the error body. */
export async function unwrap<R extends FetchResult>(call: Promise<R>): Promise<Exclude<R["data"], undefined>> {
  let result: R;
  try {
    result = await call;
  } catch {
    throw parseApiError(undefined); // fetch itself failed: offline, server down
  }
  const { data, error, response } = result;
  if (!response.ok || error !== undefined) throw parseApiError(error, response);
  return data as Exclude<R["data"], undefined>;
}
