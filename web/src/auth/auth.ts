// Sign-in, sign-up and sign-out. The session itself lives in ./session (memory only).
import { useSyncExternalStore } from "react";
import { api, refreshSession, unwrap } from "../api/client";
import type { LoginBody, RegisterBody, UserPrivate } from "../api/types";
import { clearSession, getSession, setAuthenticated, subscribe, type Session } from "./session";

export function useSession(): Session {
  return useSyncExternalStore(subscribe, getSession, getSession);
}

/** On page load: restore the session from the HttpOnly refresh cookie, if there is one. */
export const restoreSession = refreshSession;

export async function login(body: LoginBody): Promise<UserPrivate> {
  const tokens = await unwrap(api.POST("/api/auth/login", { body }));
  setAuthenticated(tokens.access_token, tokens.user);
  return tokens.user;
}

/**
 * Create the account, then sign in with the same credentials. When the server sends email the account
 * exists only once the link mailed to the address is used: then the answer is "check_email".
 */
export async function register(body: RegisterBody): Promise<UserPrivate | "check_email"> {
  const created = await unwrap(api.POST("/api/auth/register", { body }));
  if ("status" in created && created.status === "check_email") return "check_email";
  return login({ login: body.username, password: body.password });
}

export async function logout(): Promise<void> {
  try {
    await api.POST("/api/auth/logout");
  } catch {
    // Signed out locally either way; the cookie expires on its own.
  } finally {
    clearSession();
  }
}
