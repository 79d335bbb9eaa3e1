// Calling the API: JSON in and out, the CSRF token on every change, back to the login page
// on 401, and a refusal as an ApiError (with the server's `detail`) that errorKey() turns
// into a sentence key.

import { M } from "./session.js";

export function toLogin() {
  location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
}

// `detail` is what the server said, when it said it in JSON ({code, message, ...} for a
// refusal the page can explain: see jobs.js).
export class ApiError extends Error {
  constructor(status, detail = null) { super(`HTTP ${status}`); this.status = status; this.detail = detail; }
}

// fetch() for the API: JSON in and out, the CSRF token on every change.
export async function api(path, options = {}) {
  const method = options.method || "GET";
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = M.me ? M.me.csrf_token : "";
  let body;
  if (options.body !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(options.body); }
  const response = await fetch(path, { method, headers, body, credentials: "same-origin" });
  if (response.status === 401) { toLogin(); throw new ApiError(401); }
  if (!response.ok) throw new ApiError(response.status, await response.json().then((b) => b.detail, () => null));
  return response.status === 204 ? null : response.json();
}

// The sentence key for a failed call (by its HTTP status).
export function errorKey(error) {
  const known = { 403: "error_forbidden", 404: "error_not_found", 409: "error_conflict", 400: "error_invalid", 422: "error_invalid" };
  return known[error.status] || "error_generic";
}
