// Checks that mirror the server's rules, so obvious mistakes show before a round trip.
// The server stays the authority: its errors are shown the same way.

export const USERNAME_RE = /^[A-Za-z0-9_]{3,50}$/;

export function checkUsername(value: string): string | undefined {
  if (!value) return "Choose a username.";
  if (value.length < 3 || value.length > 50) return "Use 3 to 50 characters.";
  if (!USERNAME_RE.test(value)) return "Use only letters, digits and underscores.";
  return undefined;
}

export function checkEmail(value: string): string | undefined {
  if (!value) return "Enter your email address.";
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) return "Enter a valid email address.";
  return undefined;
}

export function checkNewPassword(value: string): string | undefined {
  if (!value) return "Choose a password.";
  if (value.length < 8) return "Use at least 8 characters.";
  if (value.length > 128) return "Use at most 128 characters.";
  return undefined;
}

/** Drop undefined entries, so `Object.keys(errors).length` says whether anything is wrong. */
export function compact(errors: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(errors).filter((e): e is [string, string] => e[1] !== undefined));
}

/** A same-site path to go to after signing in; anything else becomes "/". */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return "/";
  return next;
}
