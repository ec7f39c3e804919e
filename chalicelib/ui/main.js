// The Webhooks tab: the header, the router (#/..., so that no key is ever in a URL that a
// server sees) and the views. One module per view.
import * as api from "./api.js";
import { h } from "./dom.js";
import { announce, arrived, clearNotice } from "./feedback.js";
import { LANGUAGES, language, nameOf, setLanguage, t } from "./i18n.js";
import * as session from "./session.js";
import * as formView from "./view-form.js";
import * as listView from "./view-list.js";
import * as logView from "./view-log.js";
import * as secretView from "./view-secret.js";
import * as signInView from "./view-signin.js";

const ROUTES = [
  [/^#\/new$/, formView, () => ({})],
  [/^#\/webhooks\/(\d+)\/edit$/, formView, (m) => ({ id: Number(m[1]) })],
  [/^#\/webhooks\/(\d+)\/log$/, logView, (m) => ({ id: Number(m[1]) })],
  [/^#\/webhooks\/(\d+)\/secret$/, secretView, (m) => ({ id: Number(m[1]) })],
];

function route() {
  if (!session.current()) return [signInView, {}];
  for (const [pattern, view, params] of ROUTES) {
    const match = location.hash.match(pattern);
    if (match) return [view, params(match)];
  }
  return [listView, {}];
}

function renderHeader() {
  const bar = document.getElementById("bar");
  const select = h("select", { id: "language", onchange: (event) => {
    setLanguage(event.target.value);
    render({ focus: false });
    document.getElementById("language").focus();
  } }, LANGUAGES.map((code) =>
    h("option", { value: code, selected: code === language(), lang: code }, nameOf(code))));
  const signedIn = session.current();
  bar.replaceChildren(
    h("p", { class: "brand" }, t("appName")),
    h("div", { class: "bar-tools" },
      h("label", { for: "language" }, t("language")), select,
      signedIn && h("span", { class: "who" }, t("signedInAs", { email: signedIn.user })),
      signedIn && h("button", { type: "button", class: "quiet", onclick: signOut },
        t("signOut"))));
  document.title = `${t("webhooks")} – ${t("appName")}`;
}

function signOut() {
  session.end();
  clearNotice();
  history.replaceState(null, "", location.pathname);
  render();
}

let rendering = 0;

/** Draw the header and the current view; `focus` moves focus to the view's heading. */
export async function render({ focus = true } = {}) {
  const turn = ++rendering;
  renderHeader();
  // Each render draws into a container of its own: when a newer render (signing out,
  // another view) replaces it, what the older one draws after its requests answer lands
  // in a detached element and never overwrites the newer view.
  const container = h("div", { class: "view" });
  document.getElementById("main").replaceChildren(container);
  const [view, params] = route();
  await view.render(container, params, { render });
  if (focus && turn === rendering) document.getElementById("view-heading")?.focus();
}

api.whenSignedOut(() => {
  session.end();
  render().then(() => announce(t("sessionEnded"), "error"));
});

window.addEventListener("hashchange", () => {
  if (!location.hash.startsWith("#/") && location.hash !== "") return; // in-page anchors
  clearNotice();
  render().then(arrived);
});

render({ focus: false });
