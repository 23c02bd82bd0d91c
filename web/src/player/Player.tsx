// The live player, loaded on demand: hls.js is most of its weight and only pages with video need it.
import { lazy, Suspense, type ComponentProps } from "react";

const LivePlayer = lazy(() => import("./LivePlayer").then((m) => ({ default: m.LivePlayer })));

export type PlayerProps = ComponentProps<typeof LivePlayer>;

export function Player(props: PlayerProps) {
  return (
    <Suspense
      fallback={
        <div className="player">
          <span className="player-spinner spinner" aria-hidden="true" />
          {props.children}
        </div>
      }
    >
      <LivePlayer {...props} />
    </Suspense>
  );
}
