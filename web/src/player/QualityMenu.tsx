import { useEffect, useId, useRef, useState } from "react";
import { selectedLabel, type QualityOption } from "./quality";

/** "Auto (720p) ▾" over the player; opens a list of renditions, one of which is checked. */
export function QualityMenu({
  options,
  selected,
  playing,
  onSelect,
}: {
  options: readonly QualityOption[];
  selected: number;
  playing: number | null;
  onSelect: (value: number) => void;
}) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const menuId = useId();

  useEffect(() => {
    if (!open) return;
    const onPointer = (event: PointerEvent) => {
      if (!root.current?.contains(event.target as Node)) setOpen(false);
    };
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") setOpen(false);
    };
    document.addEventListener("pointerdown", onPointer);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("pointerdown", onPointer);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);

  return (
    <div className="quality-menu" ref={root}>
      <button
        type="button"
        className="player-chip"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={menuId}
        data-testid="quality-button"
        onClick={() => setOpen((v) => !v)}
      >
        <svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true">
          <path
            d="M2 4h7M12 4h2M2 12h2M7 12h7M9 2v4M4 10v4"
            fill="none"
            stroke="currentColor"
            strokeWidth="1.6"
            strokeLinecap="round"
          />
        </svg>
        <span className="visually-hidden">Quality: </span>
        {selectedLabel(options, selected, playing)}
      </button>
      {open ? (
        <ul className="quality-list" role="menu" id={menuId} aria-label="Quality" data-testid="quality-menu">
          {options.map((option) => (
            <li key={option.value} role="none">
              <button
                type="button"
                role="menuitemradio"
                aria-checked={option.value === selected}
                className="quality-item"
                onClick={() => {
                  onSelect(option.value);
                  setOpen(false);
                }}
              >
                {option.label}
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
