// The watch page's stage for an ended stream that has an archive: the replay (the same player, as VOD),
// "being prepared (NN %)" while it is processed, or a clear word when it sits in cold storage.
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router-dom";
import type { StreamArchive } from "../api/archives";
import { streamKeys } from "../api/streams";
import type { Stream } from "../api/types";
import { Player } from "../player/Player";
import type { Refusal } from "../player/LivePlayer";
import { ArchiveProgress, percent } from "./ArchiveBits";

function channelOf(stream: Stream) {
  return { href: `/u/${encodeURIComponent(stream.user.username)}`, name: stream.user.display_name || stream.user.username };
}

export function PreparingStage({ archive }: { archive: StreamArchive }) {
  const progress = percent(archive.progress);
  return (
    <div className="stage stage--message" data-testid="replay-preparing" data-progress={progress}>
      <div className="stage-text">
        <p className="stage-title">The replay is being prepared ({progress} %)</p>
        <ArchiveProgress progress={progress} label="Preparing the replay" testId="replay-progress" />
        <p className="muted">It plays here as soon as it is ready. No need to reload.</p>
      </div>
    </div>
  );
}

export function ColdStage({ stream }: { stream: Stream }) {
  const channel = channelOf(stream);
  return (
    <div className="stage stage--message" data-testid="replay-cold">
      <div className="stage-text">
        <p className="stage-title">This archive is in cold storage</p>
        <p className="muted">
          It was moved to long-term storage and cannot be played right now. Ask {channel.name} to have it restored
          if you would like to watch it.
        </p>
        <Link to={channel.href} className="btn btn--secondary">
          More from {channel.name}
        </Link>
      </div>
    </div>
  );
}

/**
 * A ready archive, played as VOD. Whether it is cold is learnt from the server's 409 ARCHIVE_COLD, not from its
 * storage class: a restored archive keeps its cold class (S3 reports it unchanged) and plays.
 */
export function ReplayStage({ stream, archive }: { stream: Stream; archive: StreamArchive & { hls_url: string } }) {
  const client = useQueryClient();
  const [cold, setCold] = useState(false);

  const onRefused = (refusal: Refusal) => {
    if (refusal.status === 409 && (refusal.code === null || refusal.code === "ARCHIVE_COLD")) {
      setCold(true);
      return;
    }
    // Gone meanwhile (deleted?), or not ready after all: the stream says what is left.
    void client.invalidateQueries({ queryKey: streamKeys.one(stream.stream_id) });
  };

  if (cold) return <ColdStage stream={stream} />;
  return (
    <div className="stage" data-testid="replay">
      <Player
        vod
        src={archive.hls_url}
        poster={archive.thumbnail_url}
        label={`Replay: ${stream.title}`}
        onRefused={onRefused}
      />
    </div>
  );
}
