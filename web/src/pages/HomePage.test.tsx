import { screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { clearSession, resetSessionForTests } from "../auth/session";
import { json, stubFetch } from "../test/http";
import { renderApp } from "../test/render";
import { makeStream, page } from "../test/streams";

describe("home page, live now", () => {
  beforeEach(() => {
    resetSessionForTests();
    clearSession();
  });
  afterEach(() => resetSessionForTests());

  it("lists live streams as cards", async () => {
    const { calls } = stubFetch({
      "GET /api/streams": () =>
        json(200, page([makeStream(), makeStream({ stream_id: "5e1f0c2a-0000-4000-8000-00000000a002", title: "Second", viewer_count: 1, thumbnail_url: null })])),
    });
    renderApp("/");
    const section = screen.getByTestId("live-now");
    const cards = await within(section).findAllByTestId("stream-card");
    expect(cards).toHaveLength(2);
    expect(within(cards[0]!).getByTestId("stream-card-title")).toHaveTextContent("Building a synth from scratch");
    expect(within(cards[0]!).getByText("Live")).toBeInTheDocument();
    expect(within(cards[0]!).getByText("12 viewers")).toBeInTheDocument();
    expect(within(cards[0]!).getByRole("link", { name: "Alice" })).toHaveAttribute("href", "/u/alice");
    expect(within(cards[1]!).getByText("1 viewer")).toBeInTheDocument();
    expect(within(cards[1]!).getByTestId("thumbnail-placeholder")).toBeInTheDocument();
    expect(new URL(calls[0]!.url).searchParams.get("status")).toBe("live");
  });

  it("says when nobody is live", async () => {
    stubFetch({ "GET /api/streams": () => json(200, page([])) });
    renderApp("/");
    expect(await within(screen.getByTestId("live-now")).findByText("Nobody is live right now")).toBeInTheDocument();
  });
});
