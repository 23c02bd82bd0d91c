import { Link } from "react-router-dom";

export function LogoMark({ size = 28 }: { size?: number }) {
  return (
    <svg className="logo-mark" width={size} height={size} viewBox="0 0 32 32" aria-hidden="true" focusable="false">
      <defs>
        <linearGradient id="logo-gradient" x1="0" y1="0" x2="1" y2="1">
          <stop offset="0" stopColor="#8b5cf6" />
          <stop offset="1" stopColor="#ec4899" />
        </linearGradient>
      </defs>
      <rect width="32" height="32" rx="8" fill="url(#logo-gradient)" />
      <path d="M12 9.5v13l11-6.5z" fill="#fff" />
    </svg>
  );
}

export function Logo() {
  return (
    <Link to="/" className="logo" aria-label="LiveStream Pro, home">
      <LogoMark />
      <span className="logo-text">
        LiveStream <span className="logo-pro">Pro</span>
      </span>
    </Link>
  );
}
