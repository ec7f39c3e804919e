// The signed-in API user and key: in this tab's sessionStorage only (gone when the tab
// closes), never in a URL, a cookie or localStorage.
const KEY = "webhooks.session";

export function current() {
  try {
    const value = JSON.parse(sessionStorage.getItem(KEY) || "null");
    return value && typeof value.user === "string" && typeof value.key === "string"
      ? value : null;
  } catch {
    return null;
  }
}

export function start(user, key) {
  sessionStorage.setItem(KEY, JSON.stringify({ user, key }));
}

export function end() {
  sessionStorage.removeItem(KEY);
}
