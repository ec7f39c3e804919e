// Sign in with the API user (e-mail) and an API key; the key is checked by one API call
// and then kept in the tab's sessionStorage only.
import * as api from "./api.js";
import { h, viewHeading } from "./dom.js";
import { describe } from "./feedback.js";
import { t } from "./i18n.js";
import * as session from "./session.js";

export async function render(main, _params, { render: rerender }) {
  const email = h("input", { id: "email", name: "email", type: "email", required: true,
    autocomplete: "username", spellcheck: "false" });
  const key = h("input", { id: "api-key", name: "api-key", type: "password", required: true,
    autocomplete: "current-password", spellcheck: "false" });
  const problem = h("p", { class: "field-error", role: "alert" });
  const button = h("button", { type: "submit" }, t("signIn"));

  async function signIn(event) {
    event.preventDefault();
    problem.textContent = "";
    button.disabled = true;
    button.textContent = t("signingIn");
    const credentials = { user: email.value.trim(), key: key.value.trim() };
    try {
      await api.call("GET", "/v2/webhooks/events", undefined, credentials);
      session.start(credentials.user, credentials.key);
      await rerender();
    } catch (error) {
      problem.textContent = describe(error);
      button.disabled = false;
      button.textContent = t("signIn");
      key.focus();
    }
  }

  main.replaceChildren(h("section", { class: "narrow" },
    viewHeading(t("signInHeading")),
    h("p", {}, t("signInIntro")),
    h("form", { onsubmit: signIn },
      h("div", { class: "field" }, h("label", { for: "email" }, t("email")), email),
      h("div", { class: "field" }, h("label", { for: "api-key" }, t("apiKey")), key,
        h("p", { class: "hint" }, t("keyNote"))),
      problem,
      button)));
}
