import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { alice } from "../test/http";
import { clearSession, getAccessToken, getSession, resetSessionForTests, setAuthenticated, subscribe, updateUser } from "./session";

describe("session store", () => {
  beforeEach(() => resetSessionForTests());
  afterEach(() => resetSessionForTests());

  it("keeps the access token in memory and never writes Web Storage or cookies", () => {
    // Both browser stores are Storage instances, so spying on the prototype watches them both.
    const storageCalls = [
      vi.spyOn(Storage.prototype, "setItem"),
      vi.spyOn(Storage.prototype, "getItem"),
      vi.spyOn(Storage.prototype, "removeItem"),
      vi.spyOn(Storage.prototype, "clear"),
    ];
    const cookieBefore = document.cookie;

    setAuthenticated("secret-access-token", alice);
    expect(getAccessToken()).toBe("secret-access-token");
    updateUser({ ...alice, display_name: "Alice B." });
    clearSession();

    for (const spy of storageCalls) expect(spy).not.toHaveBeenCalled();
    expect(document.cookie).toBe(cookieBefore);
    expect(document.cookie).not.toContain("secret-access-token");
  });

  it("starts loading, becomes authenticated, then anonymous on sign-out", () => {
    expect(getSession()).toEqual({ status: "loading", user: null });
    setAuthenticated("t1", alice);
    expect(getSession()).toEqual({ status: "authenticated", user: alice });
    clearSession();
    expect(getSession()).toEqual({ status: "anonymous", user: null });
    expect(getAccessToken()).toBeNull();
  });

  it("notifies subscribers and stops after unsubscribe", () => {
    const listener = vi.fn();
    const unsubscribe = subscribe(listener);
    setAuthenticated("t1", alice);
    expect(listener).toHaveBeenCalledTimes(1);
    unsubscribe();
    clearSession();
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it("ignores a user update when nobody is signed in", () => {
    clearSession();
    updateUser(alice);
    expect(getSession().status).toBe("anonymous");
  });
});
