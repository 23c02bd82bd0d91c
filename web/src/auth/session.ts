// The signed-in session, held in memory only. The access token is a module variable that is never
// written to Web Storage, cookies or the URL; a page reload loses it on purpose and the app gets a
// new one from the HttpOnly refresh cookie (POST /api/auth/refresh).
import type { UserPrivate } from "../api/types";

export type SessionStatus = "loading" | "anonymous" | "authenticated";

export interface Session {
  status: SessionStatus;
  user: UserPrivate | null;
}

let accessToken: string | null = null;
let session: Session = { status: "loading", user: null };
const listeners = new Set<() => void>();

function publish(next: Session): void {
  session = next;
  for (const listener of listeners) listener();
}

export function getAccessToken(): string | null {
  return accessToken;
}

export function getSession(): Session {
  return session;
}

export function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function setAuthenticated(token: string, user: UserPrivate): void {
  accessToken = token;
  publish({ status: "authenticated", user });
}

/** Replace the signed-in user's data (after a profile edit); keeps the token. */
export function updateUser(user: UserPrivate): void {
  if (session.status === "authenticated") publish({ status: "authenticated", user });
}

export function clearSession(): void {
  accessToken = null;
  publish({ status: "anonymous", user: null });
}

/** Back to the state of a fresh page load. For tests. */
export function resetSessionForTests(): void {
  accessToken = null;
  session = { status: "loading", user: null };
  listeners.clear();
}
