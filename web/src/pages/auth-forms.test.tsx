import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearSession, getAccessToken, getSession, resetSessionForTests } from "../auth/session";
import { alice, errorBody, json, stubFetch, tokens } from "../test/http";
import { renderApp } from "../test/render";

describe("login form", () => {
  beforeEach(() => {
    resetSessionForTests();
    clearSession();
  });
  afterEach(() => resetSessionForTests());

  it("shows the server's error and disables the button while submitting", async () => {
    let answer: (r: Response) => void = () => {};
    stubFetch({ "POST /api/auth/login": () => new Promise<Response>((resolve) => (answer = resolve)) });
    const user = userEvent.setup();
    renderApp("/login");

    await user.type(screen.getByLabelText("Email or username"), "alice");
    await user.type(screen.getByLabelText("Password"), "wrong-password");
    await user.click(screen.getByRole("button", { name: "Log in" }));

    const busy = await screen.findByRole("button", { name: "Logging in…" });
    expect(busy).toBeDisabled();

    answer(errorBody(401, "INVALID_CREDENTIALS", "Wrong email, username or password"));
    expect(await screen.findByTestId("form-error")).toHaveTextContent("Wrong email, username or password");
    expect(screen.getByRole("button", { name: "Log in" })).toBeEnabled();
    expect(getSession().status).toBe("anonymous");
  });

  it("says when a rate limit lifts", async () => {
    stubFetch({
      "POST /api/auth/login": () =>
        errorBody(429, "RATE_LIMITED", "Too many login attempts", { retry_after: 42 }),
    });
    const user = userEvent.setup();
    renderApp("/login");
    await user.type(screen.getByLabelText("Email or username"), "alice");
    await user.type(screen.getByLabelText("Password"), "whatever1");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByTestId("form-error")).toHaveTextContent("Try again in 42 seconds");
  });

  it("checks empty fields before calling the server", async () => {
    const { fetch } = stubFetch({});
    const user = userEvent.setup();
    renderApp("/login");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    expect(screen.getByText("Enter your email or username.")).toBeInTheDocument();
    expect(screen.getByLabelText("Email or username")).toHaveAttribute("aria-invalid", "true");
    expect(fetch).not.toHaveBeenCalled();
  });

  it("signs in, keeps the token in memory and goes where it was asked", async () => {
    stubFetch({
      "POST /api/auth/login": () => json(200, tokens("access-xyz")),
      "GET /api/users/by-username/alice": () => json(200, { ...alice, email: undefined, updated_at: undefined }),
    });
    const user = userEvent.setup();
    const { router } = renderApp("/login?next=%2Fu%2Falice");
    await user.type(screen.getByLabelText("Email or username"), "alice");
    await user.type(screen.getByLabelText("Password"), "correct horse");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    await waitFor(() => expect(router.state.location.pathname).toBe("/u/alice"));
    expect(getAccessToken()).toBe("access-xyz");
    expect(await screen.findByTestId("profile-display-name")).toHaveTextContent("Alice");
  });
});

describe("register form", () => {
  beforeEach(() => {
    resetSessionForTests();
    clearSession();
  });
  afterEach(() => resetSessionForTests());

  it("shows a taken username next to the username field", async () => {
    stubFetch({
      "POST /api/auth/register": () => errorBody(409, "USERNAME_TAKEN", "This username is taken"),
    });
    const user = userEvent.setup();
    renderApp("/register");
    await user.type(screen.getByLabelText("Username"), "alice");
    await user.type(screen.getByLabelText("Email"), "alice@example.com");
    await user.type(screen.getByLabelText("Password"), "long enough pw");
    await user.click(screen.getByRole("button", { name: "Create account" }));

    const username = screen.getByLabelText("Username");
    await waitFor(() => expect(username).toHaveAttribute("aria-invalid", "true"));
    expect(username).toHaveAccessibleDescription("This username is taken");
    expect(screen.queryByTestId("form-error")).not.toBeInTheDocument();
  });

  it("shows the server's validation message for each field", async () => {
    stubFetch({
      "POST /api/auth/register": () =>
        errorBody(400, "WEAK_PASSWORD", "This password is too common"),
    });
    const user = userEvent.setup();
    renderApp("/register");
    await user.type(screen.getByLabelText("Username"), "bob_99");
    await user.type(screen.getByLabelText("Email"), "bob@example.com");
    await user.type(screen.getByLabelText("Password"), "password123");
    await user.click(screen.getByRole("button", { name: "Create account" }));
    expect(await screen.findByText("This password is too common")).toBeInTheDocument();
    expect(screen.getByLabelText("Password")).toHaveAttribute("aria-invalid", "true");
  });
});
