// Every call the page makes to the mock: the admin key from this tab's sessionStorage, sent as a
// bearer header only (never in a URL or a cookie); a refusal's body is kept verbatim for the page.

const STORE = "mockserver.admin-key";

export const adminKey = {
  get: () => sessionStorage.getItem(STORE),
  set: (value) => sessionStorage.setItem(STORE, value),
  clear: () => sessionStorage.removeItem(STORE),
};

/** A non-2xx answer; ``text`` is the body exactly as the mock sent it. */
export class ApiError extends Error {
  constructor(status, text) {
    super(`HTTP ${status}: ${text}`);
    this.status = status;
    this.text = text;
  }
}

const refusedListeners = [];

/** ``handler`` runs when the stored key is refused (401), so the page can log out. */
export function onRefused(handler) {
  refusedListeners.push(handler);
}

/**
 * One request. ``key`` overrides the stored key (the login form tries a key before keeping it);
 * ``etag`` makes a conditional GET, answered ``{status: 304}`` when nothing changed.
 */
export async function call(method, path, { body, etag, key } = {}) {
  const headers = { Authorization: `Bearer ${key ?? adminKey.get() ?? ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (etag) headers["If-None-Match"] = etag;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
    redirect: "error",
  });
  const time = Number(response.headers.get("X-Mock-Time")) || null;
  if (response.status === 304) return { status: 304, etag, time };
  const text = await response.text();
  if (!response.ok) {
    if (response.status === 401 && key === undefined) refusedListeners.forEach((handler) => handler(text));
    throw new ApiError(response.status, text);
  }
  return { status: response.status, json: text ? JSON.parse(text) : null, etag: response.headers.get("ETag"), time };
}

export const get = (path, options) => call("GET", path, options);
