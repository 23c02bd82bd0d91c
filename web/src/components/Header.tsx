import { useEffect, useRef, useState } from "react";
import { Link, NavLink, useLocation, useNavigate } from "react-router-dom";
import { logout, useSession } from "../auth/auth";
import type { UserPrivate } from "../api/types";
import { NotificationBell } from "../notifications/NotificationBell";
import { Avatar } from "./Avatar";
import { Logo } from "./Logo";

function UserMenu({ user }: { user: UserPrivate }) {
  const [open, setOpen] = useState(false);
  const [leaving, setLeaving] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const location = useLocation();
  const navigate = useNavigate();

  useEffect(() => {
    setOpen(false);
  }, [location.pathname]);

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

  const onLogout = async () => {
    setLeaving(true);
    await logout();
    setLeaving(false);
    navigate("/");
  };

  const name = user.display_name || user.username;
  return (
    <div className="user-menu" ref={root}>
      <button
        type="button"
        className="user-menu-button"
        aria-haspopup="true"
        aria-expanded={open}
        aria-controls="user-menu-panel"
        aria-label={`Account menu for ${user.username}`}
        data-testid="user-menu-button"
        onClick={() => setOpen((v) => !v)}
      >
        <Avatar username={user.username} name={user.display_name} size="sm" />
        <span className="user-menu-name">{name}</span>
        <svg className="chevron" width="12" height="12" viewBox="0 0 12 12" aria-hidden="true">
          <path d="M2.5 4.5 6 8l3.5-3.5" fill="none" stroke="currentColor" strokeWidth="1.6" />
        </svg>
      </button>
      {open ? (
        <div className="user-menu-panel" id="user-menu-panel">
          <div className="user-menu-who">
            <span className="muted">Signed in as</span>
            <strong>@{user.username}</strong>
          </div>
          <Link to={`/u/${encodeURIComponent(user.username)}`} className="user-menu-item">
            Your channel
          </Link>
          <Link to="/dashboard" className="user-menu-item">
            Creator dashboard
          </Link>
          <Link to="/earnings" className="user-menu-item">
            Earnings
          </Link>
          <Link to="/notifications" className="user-menu-item">
            Notifications
          </Link>
          <Link to="/settings/profile" className="user-menu-item">
            Settings
          </Link>
          <button type="button" className="user-menu-item user-menu-item--danger" onClick={onLogout} disabled={leaving}>
            {leaving ? "Logging out…" : "Log out"}
          </button>
        </div>
      ) : null}
    </div>
  );
}

export function Header() {
  const { status, user } = useSession();
  const location = useLocation();
  const next = location.pathname === "/" || location.pathname === "/login" || location.pathname === "/register"
    ? ""
    : `?next=${encodeURIComponent(location.pathname)}`;
  return (
    <header className="site-header">
      <div className="site-header-inner">
        <Logo />
        <nav className="site-nav" aria-label="Main">
          <NavLink to="/" end className="nav-link">
            Home
          </NavLink>
          {user ? (
            <>
              <NavLink to={`/u/${encodeURIComponent(user.username)}`} className="nav-link">
                My channel
              </NavLink>
              <NavLink to="/dashboard" className="nav-link">
                Dashboard
              </NavLink>
            </>
          ) : null}
        </nav>
        <div className="site-header-actions" data-testid="auth-status" data-status={status}>
          {status === "authenticated" && user ? (
            <>
              <Link to="/dashboard" className="btn btn--primary header-go-live" data-testid="go-live-link">
                <span className="live-dot" aria-hidden="true" />
                Go live
              </Link>
              <NotificationBell user={user} />
              <UserMenu user={user} />
            </>
          ) : status === "anonymous" ? (
            <>
              <Link to={`/login${next}`} className="btn btn--ghost">
                Log in
              </Link>
              <Link to="/register" className="btn btn--primary">
                Sign up
              </Link>
            </>
          ) : (
            <span className="header-placeholder" aria-hidden="true" />
          )}
        </div>
      </div>
    </header>
  );
}
