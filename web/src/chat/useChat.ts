// React glue for the watch page's live channel: one socket and one chat store per page.
import { useEffect, useState, useSyncExternalStore } from "react";
import { StreamSocket, type SocketOptions } from "../realtime/socket";
import { ChatStore, type ChatState } from "./chatStore";

/**
 * Open the stream's socket for as long as the component is mounted (and the id stays the same),
 * feeding a chat store. Call it at the top of the page, before anything that waits for data, so no
 * early frame is missed.
 */
export function useLiveChannel(streamId: string, options?: SocketOptions): ChatStore {
  const [store] = useState(() => new ChatStore());
  const [socketOptions] = useState(options);
  useEffect(() => {
    if (!streamId) return;
    const socket = new StreamSocket(streamId, socketOptions);
    const detach = store.attach(socket);
    socket.start();
    return () => {
      detach();
      socket.close();
    };
  }, [store, streamId, socketOptions]);
  return store;
}

/** The socket's viewer count (null until its hello); re-renders only when it changes. */
export function useViewerCount(store: ChatStore): number | null {
  return useSyncExternalStore(store.subscribe, () => store.getState().viewerCount);
}

/** The chat store's current state; re-renders on every change. */
export function useChatState(store: ChatStore): ChatState {
  return useSyncExternalStore(store.subscribe, store.getState, store.getState);
}

function secondsUntil(at: number | null): number {
  return at === null ? 0 : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** Seconds until `at` (ms since the epoch), ticking once a second; 0 once it has passed (or with no `at`). */
export function useCountdown(at: number | null): number {
  const [seconds, setSeconds] = useState(() => secondsUntil(at));
  useEffect(() => {
    setSeconds(secondsUntil(at));
    if (at === null) return;
    const timer = setInterval(() => {
      const next = secondsUntil(at);
      setSeconds(next);
      if (next === 0) clearInterval(timer);
    }, 250);
    return () => clearInterval(timer);
  }, [at]);
  return seconds;
}
