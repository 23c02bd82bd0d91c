import { useEffect } from "react";

export function usePageTitle(title: string | null): void {
  useEffect(() => {
    document.title = title ? `${title} · LiveStream Pro` : "LiveStream Pro";
  }, [title]);
}
