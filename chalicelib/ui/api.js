// The documented JSON API, called like any other client does: same origin, Clockodo's
// headers, credentials from the session. Refusals become ApiError with the API's errors.
import * as session from "./session.js";

// The service's root is the folder above /ui/, wherever the service is mounted.
const ROOT = new URL("../", import.meta.url);
const APPLICATION = "Clockodo Webhooks tab";
// Header values must be printable ASCII; anything else could not be a valid key anyway.
const HEADER_SAFE = /^[\x20-\x7e]*$/;

export class ApiError extends Error {
  constructor(status, errors, retryAfter = null) {
    super(errors.map((e) => e.message).join("; "));
    this.status = status;
    this.errors = errors;
    this.retryAfter = retryAfter;
  }

  get first() {
    return this.errors[0] || { type: "other", message: "", path: null, details: null };
  }
}

let onSignedOut = () => {};

/** What to do when the API no longer accepts the session's key (401). */
export function whenSignedOut(handler) {
  onSignedOut = handler;
}

function refused(type, message, path = null) {
  return new ApiError(401, [{ type, message, path, details: null }]);
}

/** Call the API; resolves to the parsed body, rejects with ApiError. */
export async function call(method, path, body, given = null) {
  const credentials = given || session.current();
  if (!credentials) throw refused("Unauthenticated", "not signed in");
  if (!HEADER_SAFE.test(credentials.user) || !HEADER_SAFE.test(credentials.key)) {
    throw refused("Unauthenticated", "wrong e-mail or key");
  }
  const headers = {
    "X-ClockodoApiUser": credentials.user,
    "X-ClockodoApiKey": credentials.key,
    "X-Clockodo-External-Application": `${APPLICATION};${credentials.user}`,
    Accept: "application/json",
  };
  const init = { method, headers, credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(new URL(path.replace(/^\//, ""), ROOT), init);
  } catch {
    throw new ApiError(0, [{ type: "NetworkError", message: "", path: null, details: null }]);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.ok) return data;
  const errors = Array.isArray(data?.errors) && data.errors.length ? data.errors
    : [{ type: response.status >= 500 ? "ServerError" : "other",
      message: `HTTP ${response.status}`, path: null, details: null }];
  const error = new ApiError(response.status, errors, response.headers.get("Retry-After"));
  if (response.status === 401 && !given) { // the key was revoked: back to signing in
    error.signedOut = true;
    onSignedOut();
  }
  throw error;
}

export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body);
export const put = (path, body) => call("PUT", path, body);
export const remove = (path) => call("DELETE", path);
