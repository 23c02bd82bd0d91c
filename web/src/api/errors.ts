// One error type for every failed API call, built from the server's error body:
// {"error": "message", "code": "UPPER_SNAKE", "status": n, "request_id": "..."}.

export type FieldErrors = Record<string, string>;

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;
  /** Messages by request field name (e.g. {username: "..."}), when the error names a field. */
  readonly fields: FieldErrors;
  /** Seconds from a Retry-After header (429), if any. */
  readonly retryAfter: number | null;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    requestId?: string | null;
    fields?: FieldErrors;
    retryAfter?: number | null;
  }) {
    super(init.message);
    this.name = "ApiError";
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId ?? null;
    this.fields = init.fields ?? {};
    this.retryAfter = init.retryAfter ?? null;
  }
}

/** Which form field an error code belongs to, for codes that do not carry field details. */
const FIELD_BY_CODE: Record<string, string> = {
  USERNAME_TAKEN: "username",
  EMAIL_TAKEN: "email",
  WEAK_PASSWORD: "password",
  CURRENT_PASSWORD_REQUIRED: "current_password",
  WRONG_PASSWORD: "current_password",
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

/** Per-field messages of a validation error: the server sends `fields` as {name: message}. */
function fieldMessages(body: Record<string, unknown>): FieldErrors {
  const out: FieldErrors = {};
  if (isRecord(body.fields)) {
    for (const [name, message] of Object.entries(body.fields)) {
      if (typeof message === "string") out[name] = message;
    }
  }
  return out;
}

function retryAfterSeconds(body: unknown, response: Response | undefined): number | null {
  if (isRecord(body) && typeof body.retry_after === "number") return Math.max(0, Math.ceil(body.retry_after));
  const header = response?.headers.get("Retry-After");
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** Build an ApiError from whatever the server sent (JSON error body, other JSON, text, or nothing). */
export function parseApiError(body: unknown, response?: Response): ApiError {
  const status = response?.status ?? (isRecord(body) && typeof body.status === "number" ? body.status : 0);
  const retryAfter = retryAfterSeconds(body, response);
  if (isRecord(body) && (typeof body.error === "string" || typeof body.code === "string")) {
    const code = typeof body.code === "string" ? body.code : `HTTP_${status}`;
    const message =
      typeof body.error === "string" ? body.error : typeof body.detail === "string" ? body.detail : code;
    const fields = fieldMessages(body);
    const field = FIELD_BY_CODE[code];
    if (field && !(field in fields)) fields[field] = message;
    return new ApiError({
      status,
      code,
      message,
      requestId: typeof body.request_id === "string" ? body.request_id : null,
      fields,
      retryAfter,
    });
  }
  return new ApiError({
    status,
    code: status ? `HTTP_${status}` : "NETWORK_ERROR",
    message: status ? `The server answered ${status}. Please try again.` : "Could not reach the server.",
    retryAfter,
  });
}

/** A message fit to show a person, for any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === "RATE_LIMITED" && err.retryAfter !== null) {
      return `Too many attempts. Try again in ${err.retryAfter} second${err.retryAfter === 1 ? "" : "s"}.`;
    }
    return err.message;
  }
  if (err instanceof Error) return err.message;
  return "Something went wrong.";
}

/**
 * Split an error for a form: messages for the form's own fields go next to them; anything else
 * (wrong credentials, rate limits, a field the form does not have) becomes one form-level message.
 */
export function formErrors(err: unknown, known: readonly string[]): { fields: FieldErrors; form: string | null } {
  if (err instanceof ApiError) {
    const fields = Object.fromEntries(Object.entries(err.fields).filter(([name]) => known.includes(name)));
    return { fields, form: Object.keys(fields).length ? null : errorMessage(err) };
  }
  return { fields: {}, form: errorMessage(err) };
}
