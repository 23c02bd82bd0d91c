import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The app is served by the Python server under a strict CSP (script-src 'self', style-src 'self'):
// nothing may be inlined into index.html and no asset may become a data: URL.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    cssCodeSplit: true,
    modulePreload: { polyfill: false },
    sourcemap: false,
    // The player chunk is mostly hls.js (~580 kB minified); it loads only on pages with video.
    chunkSizeWarningLimit: 650,
  },
  server: {
    // `npm run dev` talks to a local `livestream serve` on :8000.
    proxy: {
      "/api": "http://127.0.0.1:8000",
      "/hls": "http://127.0.0.1:8000",
      "/ws": { target: "ws://127.0.0.1:8000", ws: true },
    },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["./src/test/setup.ts"],
    restoreMocks: true,
  },
});
