import { formatBitrate } from "../lib/format";
import { GRAPH_SAMPLES, scaleGraph } from "../lib/graph";

const WIDTH = 300;
const HEIGHT = 80;

/** The last minute or so of ingest bitrate as a line; sizes and colours come from SVG attributes and CSS. */
export function BitrateGraph({ samples }: { samples: readonly number[] }) {
  const { points, area, max } = scaleGraph(samples, { width: WIDTH, height: HEIGHT, capacity: GRAPH_SAMPLES });
  return (
    <figure className="bitrate-graph" data-testid="bitrate-graph">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`Ingest bitrate over the last ${samples.length} samples, up to ${formatBitrate(Math.max(0, ...samples))}`}
      >
        <line className="graph-grid" x1="0" y1={HEIGHT / 2} x2={WIDTH} y2={HEIGHT / 2} />
        {points ? (
          <>
            <polygon className="graph-area" points={area} />
            <polyline className="graph-line" points={points} data-testid="bitrate-line" />
          </>
        ) : null}
      </svg>
      <figcaption className="graph-caption">
        <span>Ingest bitrate</span>
        <span>{samples.some((v) => v > 0) ? `scale ${formatBitrate(max)}` : "no data yet"}</span>
      </figcaption>
    </figure>
  );
}
