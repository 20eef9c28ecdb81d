// A small client for /api/v1: bearer token, JSON, the error envelope as ApiError.

const TOKEN_KEY = "todo.token";

/** Where the API lives: same origin by default (the gateway serves the UI); NEXT_PUBLIC_API_BASE for `next dev`. */
export const API_BASE: string = (process.env.NEXT_PUBLIC_API_BASE ?? "").replace(/\/$/, "");

export interface ErrorDetail {
  field?: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** The message for one field, when the server named it. */
  field(name: string): string | undefined {
    return this.details.find((d) => d.field === name || d.field?.startsWith(`${name}.`))?.message;
  }
}

export function getToken(): string | null {
  try {
    return window.localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  try {
    if (token) window.localStorage.setItem(TOKEN_KEY, token);
    else window.localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* private mode: the session lasts as long as the tab */
  }
  window.dispatchEvent(new CustomEvent("todo:auth", { detail: { signedIn: Boolean(token) } }));
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  keepalive?: boolean;
  /** Send the request without the bearer token (register, login). */
  anonymous?: boolean;
}

export async function toApiError(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  let details: ErrorDetail[] = [];
  try {
    const body: unknown = await res.json();
    if (body && typeof body === "object" && "error" in body) {
      const err = (body as { error: { code?: string; message?: string; details?: ErrorDetail[] } }).error;
      code = err.code ?? code;
      message = err.message ?? message;
      details = Array.isArray(err.details) ? err.details : [];
    }
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, code, message, details);
}

/** Headers of an authenticated request (the chat stream and ChatKit use them with their own fetch). */
export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const token = getToken();
  return token ? { ...extra, Authorization: `Bearer ${token}` } : extra;
}

export async function request(path: string, opts: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json", ...opts.headers };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  const token = opts.anonymous ? null : getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${API_BASE}${path}`, {
    method: opts.method ?? "GET",
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: opts.signal,
    keepalive: opts.keepalive,
  });
  if (!res.ok) {
    const error = await toApiError(res);
    if (res.status === 401 && token) setToken(null); // expired or revoked: back to sign in
    throw error;
  }
  return res;
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await request(path, opts);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export function newIdempotencyKey(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
