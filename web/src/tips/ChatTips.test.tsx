// Tip frames in the live chat: from the history and live, highlighted, deduplicated by id like messages.
import { QueryClientProvider } from "@tanstack/react-query";
import { render, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { beforeEach, describe, expect, it } from "vitest";
import { createQueryClient } from "../App";
import { clearSession, resetSessionForTests } from "../auth/session";
import { ChatPanel } from "../chat/ChatPanel";
import { useLiveChannel } from "../chat/useChat";
import { parseServerFrame } from "../realtime/protocol";
import { carol, chatMessage, hello } from "../test/chat";
import { FakeWebSocket } from "../test/fakeWebSocket";
import { STREAM_ID } from "../test/streams";
import { tipFrame, txId } from "../test/tips";

function Harness() {
  const store = useLiveChannel(STREAM_ID);
  return <ChatPanel store={store} streamId={STREAM_ID} creatorId={carol.user_id} />;
}

function renderChat() {
  render(
    <QueryClientProvider client={createQueryClient()}>
      <MemoryRouter initialEntries={[`/watch/${STREAM_ID}`]}>
        <Harness />
      </MemoryRouter>
    </QueryClientProvider>,
  );
  const ws = FakeWebSocket.latest();
  ws.serverOpen();
  return ws;
}

const tips = () => screen.queryAllByTestId("chat-tip");

describe("tips in the chat", () => {
  beforeEach(() => {
    resetSessionForTests();
    clearSession();
  });

  it("shows tips from the history among the messages, highlighted, with their message as text", () => {
    const ws = renderChat();
    ws.serverSend(
      hello({
        history: [
          chatMessage({ id: "h1", text: "first!" }),
          tipFrame({ transaction_id: txId(1), message: "<b>for the synth</b>" }) as never,
          chatMessage({ id: "h2", text: "nice" }),
        ],
      }),
    );
    const list = screen.getByTestId("chat-list");
    const rows = within(list).getAllByRole("listitem");
    expect(rows.map((r) => r.dataset.testid)).toEqual(["chat-message", "chat-tip", "chat-message"]);
    const [tip] = tips();
    expect(within(tip!).getByTestId("chat-tip-head")).toHaveTextContent("@bob tipped ¥500");
    // Markup in a message is text, never HTML.
    expect(within(tip!).getByTestId("chat-tip-message")).toHaveTextContent("<b>for the synth</b>");
    expect(tip!.querySelector("b")).toBeNull();
  });

  it("adds live tips once, whatever the number of copies, in the tip's currency", () => {
    const ws = renderChat();
    ws.serverSend(hello({ history: [tipFrame({ transaction_id: txId(1) }) as never] }));
    ws.serverSend(tipFrame({ transaction_id: txId(1) }));
    ws.serverSend(tipFrame({ transaction_id: txId(2), amount: 1250, currency: "USD", message: null, user: null }));
    ws.serverSend(tipFrame({ transaction_id: txId(2), amount: 1250, currency: "USD", message: null, user: null }));
    expect(tips()).toHaveLength(2);
    expect(within(tips()[1]!).getByTestId("chat-tip-head")).toHaveTextContent("Someone tipped $12.50");
    expect(within(tips()[1]!).queryByTestId("chat-tip-message")).not.toBeInTheDocument();
  });

  it("takes a tip out when the server deletes it (its sender was banned)", () => {
    const ws = renderChat();
    ws.serverSend(hello());
    ws.serverSend(tipFrame({ transaction_id: txId(3) }));
    expect(tips()).toHaveLength(1);
    ws.serverSend({ type: "chat.deleted", id: `tip:${txId(3)}` });
    expect(tips()).toHaveLength(0);
  });

  it("parses tip frames strictly: a malformed one is ignored", () => {
    expect(parseServerFrame(JSON.stringify(tipFrame()))).toEqual(tipFrame());
    expect(parseServerFrame(JSON.stringify({ ...tipFrame(), amount: "500" }))).toBeNull();
    expect(parseServerFrame(JSON.stringify({ ...tipFrame(), user: { user_id: 1 } }))).toBeNull();
    const hi = parseServerFrame(JSON.stringify(hello({ history: [tipFrame() as never, { type: "unknown" } as never] })));
    expect(hi && hi.type === "hello" ? hi.history.map((h) => h.type) : null).toEqual(["tip"]);
  });
});
