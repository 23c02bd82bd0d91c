import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { api, refreshSession, unwrap } from "./client";
import { ApiError } from "./errors";
import { getAccessToken, getSession, resetSessionForTests, setAuthenticated } from "../auth/session";
import { alice, errorBody, json, stubFetch, tokens } from "../test/http";

const auth = (req: Request) => req.headers.get("Authorization");

describe("API client", () => {
  beforeEach(() => resetSessionForTests());
  afterEach(() => resetSessionForTests());

  it("sends the in-memory token as a bearer header", async () => {
    setAuthenticated("token-1", alice);
    const { calls } = stubFetch({ "GET /api/users/me": () => json(200, alice) });
    const me = await unwrap(api.GET("/api/users/me"));
    expect(me.username).toBe("alice");
    expect(auth(calls[0]!)).toBe("Bearer token-1");
  });

  it("on a 401 refreshes once through the cookie and retries with the new token", async () => {
    setAuthenticated("expired", alice);
    const { calls } = stubFetch({
      "GET /api/users/me": (req) =>
        auth(req) === "Bearer fresh" ? json(200, alice) : errorBody(401, "TOKEN_EXPIRED", "Token expired"),
      "POST /api/auth/refresh": () => json(200, tokens("fresh")),
    });
    const me = await unwrap(api.GET("/api/users/me"));
    expect(me.user_id).toBe(alice.user_id);
    expect(calls.map((c) => `${c.method} ${new URL(c.url).pathname}`)).toEqual([
      "GET /api/users/me",
      "POST /api/auth/refresh",
      "GET /api/users/me",
    ]);
    expect(calls[1]!.credentials).toBe("same-origin");
    expect(getAccessToken()).toBe("fresh");
  });

  it("retries a request with a body after refreshing", async () => {
    setAuthenticated("expired", alice);
    const bodies: string[] = [];
    stubFetch({
      "POST /api/follows": async (req) => {
        bodies.push(await req.text());
        return auth(req) === "Bearer fresh"
          ? json(201, { follow_id: "f1", follower_id: "a", following_id: "b", created_at: "2026-01-01T00:00:00Z" })
          : errorBody(401, "TOKEN_EXPIRED", "Token expired");
      },
      "POST /api/auth/refresh": () => json(200, tokens("fresh")),
    });
    const follow = await unwrap(api.POST("/api/follows", { body: { following_id: "b" } }));
    expect(follow.follow_id).toBe("f1");
    expect(bodies).toEqual(['{"following_id":"b"}', '{"following_id":"b"}']);
  });

  it("shares one refresh between concurrent 401s", async () => {
    setAuthenticated("expired", alice);
    const { calls } = stubFetch({
      "GET /api/users/me": (req) =>
        auth(req) === "Bearer fresh" ? json(200, alice) : errorBody(401, "TOKEN_EXPIRED", "Token expired"),
      "POST /api/auth/refresh": async () => {
        await new Promise((r) => setTimeout(r, 10));
        return json(200, tokens("fresh"));
      },
    });
    await Promise.all([unwrap(api.GET("/api/users/me")), unwrap(api.GET("/api/users/me"))]);
    expect(calls.filter((c) => c.url.endsWith("/api/auth/refresh"))).toHaveLength(1);
  });

  it("gives up after one failed refresh and signs out", async () => {
    setAuthenticated("expired", alice);
    const { calls } = stubFetch({
      "GET /api/users/me": () => errorBody(401, "TOKEN_EXPIRED", "Token expired"),
      "POST /api/auth/refresh": () => errorBody(401, "UNAUTHORIZED", "No session"),
    });
    await expect(unwrap(api.GET("/api/users/me"))).rejects.toMatchObject({ status: 401 });
    expect(calls).toHaveLength(2);
    expect(getSession()).toEqual({ status: "anonymous", user: null });
  });

  it("does not refresh when the login itself is refused", async () => {
    const { calls } = stubFetch({
      "POST /api/auth/login": () => errorBody(401, "INVALID_CREDENTIALS", "Wrong login or password"),
    });
    const err = await unwrap(api.POST("/api/auth/login", { body: { login: "alice", password: "nope" } })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe("INVALID_CREDENTIALS");
    expect(calls).toHaveLength(1);
  });

  it("restores a session from the refresh cookie on load", async () => {
    stubFetch({ "POST /api/auth/refresh": () => json(200, tokens("restored")) });
    await expect(refreshSession()).resolves.toBe(true);
    expect(getSession()).toEqual({ status: "authenticated", user: alice });
    expect(getAccessToken()).toBe("restored");
  });

  it("turns a network failure into an ApiError", async () => {
    stubFetch({});
    await expect(unwrap(api.GET("/api/users/me"))).rejects.toMatchObject({ code: "NETWORK_ERROR" });
  });
});
