import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterEach, beforeEach } from "vitest";
import { installFakeWebSocket } from "./fakeWebSocket";

// jsdom has no layout; the router's scroll restoration calls this on every navigation.
window.scrollTo = () => {};

// No test opens a real WebSocket: pages that use one get the fake (see fakeWebSocket.ts).
beforeEach(() => installFakeWebSocket());

afterEach(() => cleanup());
