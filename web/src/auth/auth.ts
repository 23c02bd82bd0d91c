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

/** Create the account, then sign in with the same credentials. */
export async function register(body: RegisterBody): Promise<UserPrivate> {
  await unwrap(api.POST("/api/auth/register", { body }));
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
