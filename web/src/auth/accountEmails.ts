// Account emails: confirming an address, a new confirmation link, forgotten passwords.
import { api, unwrap } from "../api/client";
import type { paths } from "../api/schema";

type Json<T> = T extends { content: { "application/json": infer B } } ? B : never;
export type VerifyEmailResult = Json<paths["/api/auth/verify-email"]["post"]["responses"][200]>;
export type EmailAccepted = Json<paths["/api/auth/forgot-password"]["post"]["responses"][202]>;

/** Use a confirmation link's token (it confirms the address, or finishes a sign-up). */
export function verifyEmail(token: string): Promise<VerifyEmailResult> {
  return unwrap(api.POST("/api/auth/verify-email", { body: { token } }));
}

export function resendVerification(): Promise<EmailAccepted> {
  return unwrap(api.POST("/api/auth/verify-email/resend"));
}

/** Always the same answer, whether or not an account has the address. */
export function forgotPassword(email: string): Promise<EmailAccepted> {
  return unwrap(api.POST("/api/auth/forgot-password", { body: { email } }));
}

export async function resetPassword(token: string, password: string): Promise<void> {
  await unwrap(api.POST("/api/auth/reset-password", { body: { token, password } }));
}
