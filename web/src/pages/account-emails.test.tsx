import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearSession, getSession, resetSessionForTests, setAuthenticated } from "../auth/session";
import { alice, errorBody, json, stubFetch, tokens } from "../test/http";
import { renderApp } from "../test/render";

const TOKEN = "Zq3-link_token_0123456789abcdefghijklmnopqrs";

async function bodyOf(req: Request): Promise<unknown> {
  return JSON.parse(await req.clone().text());
}

beforeEach(() => {
  resetSessionForTests();
  clearSession();
});
afterEach(() => resetSessionForTests());

describe("verify email page", () => {
  it("spends the link only on a click, once, and takes the token out of the address", async () => {
    const { calls } = stubFetch({
      "POST /api/auth/verify-email": () =>
        json(200, { email: "new@example.com", username: "newbie", account_created: true }),
    });
    const user = userEvent.setup();
    const { router } = renderApp(`/verify-email?token=${TOKEN}`);
    const button = await screen.findByRole("button", { name: "Confirm my address" });
    // Opening the page (a mail scanner does) sends nothing.
    await waitFor(() => expect(router.state.location.search).toBe(""));
    expect(calls).toHaveLength(0);
    await user.click(button);
    expect(await screen.findByText(/your account/)).toHaveTextContent("newbie");
    expect(screen.queryByRole("button", { name: "Confirm my address" })).toBeNull();
    const card = within(screen.getByTestId("verify-email"));
    expect(card.getByRole("link", { name: "Log in" })).toHaveAttribute("href", "/login");
    expect(calls).toHaveLength(1);
    expect(await bodyOf(calls[0]!)).toEqual({ token: TOKEN });
    expect(router.state.location.search).toBe("");
  });

  it("says an address is confirmed and updates the signed-in account", async () => {
    setAuthenticated("access", { ...alice, email_verified: false });
    stubFetch({
      "POST /api/auth/verify-email": () =>
        json(200, { email: alice.email, username: alice.username, account_created: false }),
      "GET /api/notifications/unread-count": () => json(200, { count: 0 }),
    });
    const user = userEvent.setup();
    renderApp(`/verify-email?token=${TOKEN}`);
    await user.click(await screen.findByRole("button", { name: "Confirm my address" }));
    expect(await screen.findByText(/is confirmed\./)).toHaveTextContent(alice.email);
    await waitFor(() => expect(getSession().user?.email_verified).toBe(true));
  });

  it.each([
    ["VERIFICATION_TOKEN_EXPIRED", "This confirmation link has expired; ask for a new one", "Sign up again"],
    ["VERIFICATION_TOKEN_USED", "This confirmation link was already used", "log in"],
    ["INVALID_VERIFICATION_TOKEN", "This confirmation link is not valid; ask for a new one", "Sign up again"],
  ])("explains %s and what to do next", async (code, message, next) => {
    stubFetch({ "POST /api/auth/verify-email": () => errorBody(400, code, message) });
    const user = userEvent.setup();
    renderApp(`/verify-email?token=${TOKEN}`);
    await user.click(await screen.findByRole("button", { name: "Confirm my address" }));
    expect(await screen.findByRole("alert")).toHaveTextContent(message);
    expect(within(screen.getByTestId("verify-email")).getByRole("link", { name: next })).toBeInTheDocument();
  });

  it("asks for the link when the page has no token, without calling the server", async () => {
    const { fetch } = stubFetch({});
    renderApp("/verify-email");
    expect(await screen.findByRole("alert")).toHaveTextContent("needs the link");
    expect(fetch).not.toHaveBeenCalled();
  });
});

describe("forgot password page", () => {
  it("sends the address and gives the same answer whatever it is", async () => {
    const { calls } = stubFetch({
      "POST /api/auth/forgot-password": () =>
        json(202, { status: "accepted", message: "If an account uses that address, we have sent it a link." }),
    });
    const user = userEvent.setup();
    renderApp("/forgot-password");
    await user.type(screen.getByLabelText("Email"), "  someone@example.com ");
    await user.click(screen.getByRole("button", { name: "Send me a link" }));
    expect(await screen.findByTestId("forgot-sent")).toHaveTextContent("If an account uses someone@example.com");
    expect(await bodyOf(calls[0]!)).toEqual({ email: "someone@example.com" });
  });

  it("checks the address before calling the server", async () => {
    const { fetch } = stubFetch({});
    const user = userEvent.setup();
    renderApp("/forgot-password");
    await user.type(screen.getByLabelText("Email"), "not-an-address");
    await user.click(screen.getByRole("button", { name: "Send me a link" }));
    expect(screen.getByLabelText("Email")).toHaveAttribute("aria-invalid", "true");
    expect(fetch).not.toHaveBeenCalled();
  });

  it("says when to try again after a rate limit, and when email is off", async () => {
    let answer = errorBody(429, "RATE_LIMITED", "Too many emails asked for", { retry_after: 120 });
    stubFetch({ "POST /api/auth/forgot-password": () => answer });
    const user = userEvent.setup();
    renderApp("/forgot-password");
    await user.type(screen.getByLabelText("Email"), "a@example.com");
    await user.click(screen.getByRole("button", { name: "Send me a link" }));
    expect(await screen.findByTestId("form-error")).toHaveTextContent("Try again in 120 seconds");
    answer = errorBody(409, "EMAIL_DISABLED", "This server sends no email");
    await user.click(screen.getByRole("button", { name: "Send me a link" }));
    await waitFor(() => expect(screen.getByTestId("form-error")).toHaveTextContent("This server sends no email"));
  });

  it("is linked from the login page", async () => {
    stubFetch({});
    const user = userEvent.setup();
    renderApp("/login");
    await user.click(screen.getByRole("link", { name: "Forgot password?" }));
    expect(await screen.findByRole("heading", { name: "Forgot your password?" })).toBeInTheDocument();
  });
});

describe("reset password page", () => {
  it("sets the new password, ends the local session and offers to log in", async () => {
    setAuthenticated("access", alice);
    const { calls } = stubFetch({
      "POST /api/auth/reset-password": () => json(200, { status: "password_reset", message: "done" }),
      "GET /api/notifications/unread-count": () => json(200, { count: 0 }),
    });
    const user = userEvent.setup();
    const { router } = renderApp(`/reset-password?token=${TOKEN}`);
    await waitFor(() => expect(router.state.location.search).toBe(""));
    await user.type(screen.getByLabelText("New password"), "a brand new passphrase");
    await user.type(screen.getByLabelText("New password, again"), "a brand new passphrase");
    await user.click(screen.getByRole("button", { name: "Change my password" }));
    expect(await screen.findByTestId("reset-done")).toHaveTextContent("signed out");
    const post = calls.find((c) => c.method === "POST")!;
    expect(await bodyOf(post)).toEqual({ token: TOKEN, password: "a brand new passphrase" });
    expect(getSession().status).toBe("anonymous");
  });

  it("checks that the two passwords match before calling the server", async () => {
    const { fetch } = stubFetch({});
    const user = userEvent.setup();
    renderApp(`/reset-password?token=${TOKEN}`);
    await user.type(screen.getByLabelText("New password"), "a brand new passphrase");
    await user.type(screen.getByLabelText("New password, again"), "a different passphrase");
    await user.click(screen.getByRole("button", { name: "Change my password" }));
    expect(screen.getByText("The two passwords differ.")).toBeInTheDocument();
    expect(fetch).not.toHaveBeenCalled();
  });

  it("shows a weak password next to the field, and a dead link with a way to get another", async () => {
    let answer = errorBody(400, "WEAK_PASSWORD", "That password is too common; choose another");
    stubFetch({ "POST /api/auth/reset-password": () => answer });
    const user = userEvent.setup();
    renderApp(`/reset-password?token=${TOKEN}`);
    await user.type(screen.getByLabelText("New password"), "password1");
    await user.type(screen.getByLabelText("New password, again"), "password1");
    await user.click(screen.getByRole("button", { name: "Change my password" }));
    expect(await screen.findByText("That password is too common; choose another")).toBeInTheDocument();
    expect(screen.getByLabelText("New password")).toHaveAttribute("aria-invalid", "true");

    answer = errorBody(400, "RESET_TOKEN_EXPIRED", "This password reset link has expired; ask for a new one");
    await user.click(screen.getByRole("button", { name: "Change my password" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("has expired");
    expect(screen.getByRole("link", { name: "Ask for a new link" })).toHaveAttribute("href", "/forgot-password");
  });

  it("needs the link's token", async () => {
    stubFetch({});
    renderApp("/reset-password");
    expect(await screen.findByRole("alert")).toHaveTextContent("needs the link");
  });
});

describe("register form with email confirmation", () => {
  it("says to check the email on a 202 and signs nobody in", async () => {
    const { calls } = stubFetch({
      "POST /api/auth/register": () => json(202, { status: "check_email", message: "Check your email" }),
    });
    const user = userEvent.setup();
    renderApp("/register");
    await user.type(screen.getByLabelText("Username"), "newbie");
    await user.type(screen.getByLabelText("Email"), "newbie@example.com");
    await user.type(screen.getByLabelText("Password"), "a long passphrase");
    await user.click(screen.getByRole("button", { name: "Create account" }));
    expect(await screen.findByTestId("register-check-email")).toHaveTextContent("newbie@example.com");
    expect(calls.map((c) => new URL(c.url).pathname)).toEqual(["/api/auth/register"]);
    expect(getSession().status).toBe("anonymous");
  });

  it("still signs in at once when the server sends no email (201)", async () => {
    stubFetch({
      "POST /api/auth/register": () => json(201, { ...alice, email_verified: false }),
      "POST /api/auth/login": () => json(200, tokens("access-1")),
      "GET /api/users/by-username/alice": () => json(200, { ...alice, email: undefined, updated_at: undefined }),
      "GET /api/streams": () => json(200, { items: [], next_cursor: null }),
      "GET /api/archives": () => json(200, { items: [], next_cursor: null }),
      "GET /api/schedules": () => json(200, { items: [] }),
      "GET /api/notifications/unread-count": () => json(200, { count: 0 }),
    });
    const user = userEvent.setup();
    renderApp("/register");
    await user.type(screen.getByLabelText("Username"), "alice");
    await user.type(screen.getByLabelText("Email"), "alice@example.com");
    await user.type(screen.getByLabelText("Password"), "a long passphrase");
    await user.click(screen.getByRole("button", { name: "Create account" }));
    await waitFor(() => expect(getSession().status).toBe("authenticated"));
  });
});

describe("settings hint to confirm the address", () => {
  it("mails a new link, and says so", async () => {
    setAuthenticated("access", { ...alice, email_verified: false });
    const { calls } = stubFetch({
      "POST /api/auth/verify-email/resend": () => json(202, { status: "accepted", message: "sent" }),
      "GET /api/notifications/unread-count": () => json(200, { count: 0 }),
    });
    const user = userEvent.setup();
    renderApp("/settings/profile");
    const hint = await screen.findByTestId("verify-email-hint");
    expect(hint).toHaveTextContent("is not confirmed yet");
    await user.click(screen.getByRole("button", { name: "Send me a confirmation link" }));
    expect(await screen.findByText(/We have sent a new link/)).toBeInTheDocument();
    expect(calls.filter((c) => c.method === "POST")).toHaveLength(1);
  });

  it("is not shown once the address is confirmed", async () => {
    setAuthenticated("access", { ...alice, email_verified: true });
    stubFetch({ "GET /api/notifications/unread-count": () => json(200, { count: 0 }) });
    renderApp("/settings/profile");
    expect(await screen.findByTestId("account-form")).toBeInTheDocument();
    expect(screen.queryByTestId("verify-email-hint")).toBeNull();
  });
});
