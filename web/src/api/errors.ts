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

/**
 * Per-field messages from a validation error. Accepts the shapes a FastAPI app commonly sends:
 * `errors`/`fields`/`detail` as a list of {loc: [..., "field"], msg} or {field, message},
 * or `fields` as an object {field: message}.
 */
function fieldMessages(body: Record<string, unknown>): FieldErrors {
  const out: FieldErrors = {};
  for (const key of ["errors", "fields", "detail", "invalid_params"]) {
    const value = body[key];
    if (Array.isArray(value)) {
      for (const item of value) {
        if (!isRecord(item)) continue;
        const loc = item.loc;
        const name =
          typeof item.field === "string"
            ? item.field
            : typeof item.name === "string"
              ? item.name
              : Array.isArray(loc) && loc.length > 0
                ? String(loc[loc.length - 1])
                : null;
        const msg = [item.message, item.msg, item.reason].find((m) => typeof m === "string");
        if (name && typeof msg === "string" && !(name in out)) out[name] = msg;
      }
    } else if (isRecord(value) && key === "fields") {
      for (const [name, msg] of Object.entries(value)) {
        if (typeof msg === "string") out[name] = msg;
        else if (Array.isArray(msg) && typeof msg[0] === "string") out[name] = msg[0];
      }
    }
  }
  return out;
}

function retryAfterSeconds(response: Response | undefined): number | null {
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
  const retryAfter = retryAfterSeconds(response);
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
