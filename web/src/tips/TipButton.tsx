// The Tip button of the watch and channel pages. It asks the creator's tipping info first: nothing shows
// when tips are off on this server, a note when the creator cannot receive tips yet, and a log-in link
// for signed-out viewers.
import { useState } from "react";
import { Link, useLocation } from "react-router-dom";
import { useTipping } from "../api/tips";
import { useSession } from "../auth/auth";
import { TipDialog, type TipRecipient } from "./TipDialog";

function TipIcon() {
  return (
    <svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true">
      <circle cx="8" cy="8" r="6.25" fill="none" stroke="currentColor" strokeWidth="1.5" />
      <path d="M8 4.5v7M10 6.1c-.4-.6-1.1-.9-2-.9-1.1 0-1.9.6-1.9 1.4 0 1.9 3.9 1 3.9 2.9 0 .8-.8 1.4-2 1.4-.9 0-1.7-.4-2.1-1" fill="none" stroke="currentColor" strokeWidth="1.3" strokeLinecap="round" />
    </svg>
  );
}

export function TipButton({ recipient, streamId = null }: { recipient: TipRecipient; streamId?: string | null }) {
  const session = useSession();
  const location = useLocation();
  const tipping = useTipping(recipient.user_id);
  const [open, setOpen] = useState(false);

  const isSelf = session.user?.user_id === recipient.user_id;
  // Tips off on this server (or the info is not there): no button at all.
  if (isSelf || !tipping.data || tipping.data.provider === null) return null;
  if (!tipping.data.can_receive_tips) {
    return (
      <span className="muted tip-unavailable" data-testid="tip-unavailable">
        Can’t receive tips yet
      </span>
    );
  }
  if (session.status !== "authenticated") {
    if (session.status === "loading") return null;
    return (
      <Link
        to={`/login?next=${encodeURIComponent(location.pathname + location.search)}`}
        className="btn btn--secondary tip-button"
        data-testid="tip-login"
      >
        <TipIcon /> Log in to tip
      </Link>
    );
  }
  return (
    <>
      <button
        type="button"
        className="btn btn--secondary tip-button"
        aria-haspopup="dialog"
        onClick={() => setOpen(true)}
        data-testid="tip-button"
      >
        <TipIcon /> Tip
      </button>
      {open ? <TipDialog recipient={recipient} streamId={streamId} tipping={tipping.data} onClose={() => setOpen(false)} /> : null}
    </>
  );
}
