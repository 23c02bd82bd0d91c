import { describe, expect, it } from "vitest";
import { ApiError, errorMessage, formErrors, parseApiError } from "./errors";

const res = (status: number, headers: Record<string, string> = {}) => new Response(null, { status, headers });

describe("parseApiError", () => {
  it("reads the server's error body", () => {
    const err = parseApiError(
      { error: "Username is already taken", code: "USERNAME_TAKEN", status: 409, request_id: "r-1" },
      res(409),
    );
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(409);
    expect(err.code).toBe("USERNAME_TAKEN");
    expect(err.message).toBe("Username is already taken");
    expect(err.requestId).toBe("r-1");
    // A code that belongs to one field is shown next to that field.
    expect(err.fields).toEqual({ username: "Username is already taken" });
  });

  it("takes per-field messages of a validation error", () => {
    const err = parseApiError(
      {
        error: "username: String should have at least 3 characters",
        code: "VALIDATION_ERROR",
        status: 400,
        fields: { username: "String should have at least 3 characters", email: "not an email" },
      },
      res(400),
    );
    expect(err.fields).toEqual({ username: "String should have at least 3 characters", email: "not an email" });
  });

  it("maps password codes to the current-password field", () => {
    const err = parseApiError({ error: "Current password is wrong", code: "WRONG_PASSWORD" }, res(403));
    expect(err.fields).toEqual({ current_password: "Current password is wrong" });
  });

  it("reads Retry-After for rate limits and says when to try again", () => {
    const err = parseApiError({ error: "Too many attempts", code: "RATE_LIMITED" }, res(429, { "Retry-After": "30" }));
    expect(err.retryAfter).toBe(30);
    expect(errorMessage(err)).toBe("Too many attempts. Try again in 30 seconds.");
  });

  it("copes with a body that is not the error shape", () => {
    const err = parseApiError("<html>Bad gateway</html>", res(502));
    expect(err.status).toBe(502);
    expect(err.code).toBe("HTTP_502");
    expect(err.message).toMatch(/502/);
  });

  it("reports a network failure", () => {
    const err = parseApiError(undefined);
    expect(err.code).toBe("NETWORK_ERROR");
    expect(errorMessage(err)).toBe("Could not reach the server.");
  });
});

describe("formErrors", () => {
  it("puts known fields inline and the rest in one form message", () => {
    const err = parseApiError(
      { error: "body: give exactly one of login, email or username", code: "VALIDATION_ERROR", fields: { body: "x" } },
      res(400),
    );
    expect(formErrors(err, ["login", "password"])).toEqual({
      fields: {},
      form: "body: give exactly one of login, email or username",
    });
    const taken = parseApiError({ error: "Email is taken", code: "EMAIL_TAKEN" }, res(409));
    expect(formErrors(taken, ["username", "email", "password"])).toEqual({
      fields: { email: "Email is taken" },
      form: null,
    });
  });
});
