import { useEffect } from "react";
import { Outlet, useLocation } from "react-router-dom";
import { Header } from "./Header";
import { LogoMark } from "./Logo";

/**
 * Scroll to the top when the page changes. (React Router's <ScrollRestoration> would keep positions
 * in Web Storage; this app keeps nothing there.)
 */
function useScrollToTop(): void {
  const { pathname } = useLocation();
  useEffect(() => {
    // Braces matter: newer browsers return a Promise from scrollTo, and an effect must return nothing.
    window.scrollTo(0, 0);
  }, [pathname]);
}

export function Layout() {
  useScrollToTop();
  return (
    <div className="app-shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Header />
      <main id="main" className="site-main" tabIndex={-1}>
        <Outlet />
      </main>
      <footer className="site-footer">
        <div className="site-footer-inner">
          <span className="footer-brand">
            <LogoMark size={18} /> LiveStream Pro
          </span>
          <span className="muted">Live video for creators and the people who watch them.</span>
        </div>
      </footer>
    </div>
  );
}
