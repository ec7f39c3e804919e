// The signing secret: reveal, copy and rotate it, and how to verify a signature.
import * as api from "./api.js";
import * as catalogue from "./catalogue.js";
import { h, viewHeading } from "./dom.js";
import { announce, report } from "./feedback.js";
import { dateTime, label, t } from "./i18n.js";

const EXAMPLE = `from standardwebhooks.webhooks import Webhook

# raises WebhookVerificationError if the request is forged or older than 5 minutes
payload = Webhook(signing_secret).verify(request_body, request_headers)`;

export async function render(main, { id }) {
  main.replaceChildren(viewHeading(t("signingSecret")), h("p", { role: "status" },
    t("loading")));
  let webhook;
  let events;
  try {
    [{ data: webhook }, events] = await Promise.all([api.get(`/v2/webhooks/${id}`),
      catalogue.load()]);
  } catch (error) {
    report(error);
    return;
  }
  const path = `/v2/webhooks/${id}/secret`;
  let secret = null;
  const value = h("code", { id: "signing-secret", class: "secret" }, t("secretHidden"));
  const previous = h("div", { class: "previous" });
  const reveal = h("button", { type: "button", "aria-controls": "signing-secret",
    "aria-expanded": "false", onclick: toggle }, t("reveal"));

  function show(data) {
    secret = data;
    previous.replaceChildren();
    if (data.previous_secret) {
      previous.append(h("p", {}, t("previousSecret",
        { time: dateTime(data.previous_secret_expires_at) })),
      h("code", { class: "secret" }, data.previous_secret));
    }
  }
  function setVisible(visible) {
    value.textContent = visible ? secret.secret : t("secretHidden");
    reveal.textContent = t(visible ? "hide" : "reveal");
    reveal.setAttribute("aria-expanded", String(visible));
    previous.hidden = !visible;
  }
  async function load() {
    if (!secret) show((await api.get(path)).data);
    return secret;
  }
  async function toggle() {
    try {
      await load();
    } catch (error) {
      report(error);
      return;
    }
    setVisible(reveal.getAttribute("aria-expanded") !== "true");
  }
  async function copy() {
    try {
      await navigator.clipboard.writeText((await load()).secret);
      announce(t("copied"));
    } catch (error) {
      if (error instanceof api.ApiError) report(error);
      else announce(t("copyFailed"), "error");
    }
  }
  async function rotate() {
    if (!window.confirm(t("confirmRotate"))) return;
    try {
      show((await api.post(`${path}/rotate`)).data);
    } catch (error) {
      report(error);
      return;
    }
    setVisible(true);
    announce(t("rotated"));
  }

  const event = events.event(webhook.event_name);
  main.replaceChildren(
    h("p", {}, h("a", { href: "#/" }, t("back"))),
    viewHeading(t("secretHeading", { event: event ? label(event) : webhook.event_name })),
    h("p", {}, t("secretIntro")),
    h("div", { class: "secret-box" }, value,
      h("div", { class: "actions" }, reveal,
        h("button", { type: "button", onclick: copy }, t("copy")),
        h("button", { type: "button", class: "danger", onclick: rotate }, t("rotate")))),
    previous,
    h("section", { "aria-labelledby": "verify-heading" },
      h("h2", { id: "verify-heading" }, t("verifyHeading")),
      h("p", {}, t("verifyText")),
      h("pre", { class: "code" }, EXAMPLE),
      h("p", {}, t("verifyMore"))));
}
