// Realtime frames as the server sends them, for tests.
import type { ChatMessageFrame, HelloFrame } from "../realtime/protocol";
import { alice } from "./http";
import { STREAM_ID } from "./streams";

export const bob = { user_id: "7f3c2f0e-2b0b-4d6c-9a51-3e2f0c1d0b02", username: "bob" };
export const carol = { user_id: "7f3c2f0e-2b0b-4d6c-9a51-3e2f0c1d0c03", username: "carol" };
export const aliceChat = { user_id: alice.user_id, username: alice.username };

let seq = 0;

export function chatMessage(overrides: Partial<ChatMessageFrame> = {}): ChatMessageFrame {
  seq += 1;
  return {
    type: "chat.message",
    id: `msg-${seq}`,
    user: bob,
    text: `message ${seq}`,
    sent_at: "2026-03-04T20:10:00Z",
    ...overrides,
  };
}

export function hello(overrides: Partial<HelloFrame> = {}): HelloFrame {
  return {
    type: "hello",
    stream_id: STREAM_ID,
    viewer_count: 3,
    history: [],
    stream: { status: "live", media_state: "live", title: "Building a synth from scratch", description: "Soldering, then sound." },
    chat: { slow_mode_seconds: 0 },
    ...overrides,
  };
}
