import { useEffect, useState } from "react";

/** Put text on the clipboard; false when the browser refuses (no secure context, no permission). */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // Fall through to the selection-based way.
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.append(area);
  area.select();
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  } finally {
    area.remove();
  }
}

/** "Copy" that says "Copied" for a moment (or asks to copy by hand when the browser refuses). */
export function CopyButton({ text, label = "Copy", what, testId }: { text: string; label?: string; what: string; testId?: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  useEffect(() => {
    if (state === "idle") return;
    const timer = setTimeout(() => setState("idle"), 2000);
    return () => clearTimeout(timer);
  }, [state]);
  return (
    <button
      type="button"
      className="btn btn--secondary btn--sm"
      aria-label={`${label} ${what}`}
      data-testid={testId}
      onClick={async () => setState((await copyText(text)) ? "copied" : "failed")}
    >
      <span aria-live="polite">{state === "copied" ? "Copied" : state === "failed" ? "Copy by hand" : label}</span>
    </button>
  );
}
