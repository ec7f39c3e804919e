// The list of webhooks ("Webhooks"): each with its event, URL, token, status in words and
// endpoint health, the plan's usage per type, and the actions on each webhook.
import * as api from "./api.js";
import * as catalogue from "./catalogue.js";
import { h, viewHeading } from "./dom.js";
import { announce, report } from "./feedback.js";
import { dateTime, label, t } from "./i18n.js";
import { validationPanel } from "./validate.js";

export async function render(main, _params, { render: rerender }) {
  main.replaceChildren(viewHeading(t("webhooks")), h("p", { role: "status" }, t("loading")));
  let events;
  let webhooks;
  try {
    [events, { data: webhooks }] = await Promise.all([
      catalogue.load(), api.get("/v2/webhooks?items_per_page=1000")]);
  } catch (error) {
    report(error);
    return;
  }
  const limit = events.types[0]?.limit ?? 0;
  const used = events.types.filter((type) => type.used > 0);
  main.replaceChildren(
    viewHeading(t("webhooks")),
    h("div", { class: "toolbar" },
      h("button", { type: "button", onclick: () => { location.hash = "#/new"; } },
        t("newWebhook"))),
    h("section", { class: "usage", "aria-labelledby": "usage-heading" },
      h("h2", { id: "usage-heading" }, t("usageHeading")),
      h("p", {}, t("planLimit", { limit })),
      used.length
        ? h("ul", {}, used.map((type) => h("li", {},
          t("usage", { used: type.used, limit: type.limit, type: label(type) }))))
        : h("p", {}, t("noUsage"))),
    webhooks.length
      ? h("ul", { class: "webhooks", "aria-label": t("yourWebhooks") },
        webhooks.map((webhook) => h("li", {}, card(webhook, events, rerender))))
      : h("p", { class: "empty" }, t("noWebhooks")));
}

function statusText(webhook) {
  if (webhook.status === "disabled" && webhook.disabled_reason) {
    return t("disabledBecause", { reason: webhook.disabled_reason });
  }
  return t(`status.${webhook.status}`);
}

function entry(term, ...value) {
  return [h("dt", {}, term), h("dd", {}, ...value)];
}

function card(webhook, events, rerender) {
  const event = events.event(webhook.event_name);
  const titleId = `webhook-${webhook.id}-title`;
  const panel = h("div", { class: "panel", "aria-live": "polite" });
  const base = `#/webhooks/${webhook.id}`;
  const actions = h("div", { class: "actions" });
  if (webhook.status !== "active") {
    actions.append(h("button", { type: "button", onclick: async (click) => {
      await validationPanel(panel, webhook, { send: true, rerender, trigger: click.target });
    } }, t("validate")));
  } else {
    actions.append(h("button", { type: "button",
      onclick: (click) => sendTest(panel, webhook, click.target) }, t("sendTest")));
  }
  actions.append(
    h("a", { class: "button", href: `${base}/log` }, t("log")),
    h("a", { class: "button", href: `${base}/secret` }, t("signingSecret")),
    h("a", { class: "button", href: `${base}/edit` }, t("edit")),
    h("button", { type: "button", class: "danger",
      onclick: () => remove(webhook, event, rerender) }, t("delete")));
  if (webhook.status !== "active" && webhook.pending_validation) {
    validationPanel(panel, webhook, { send: false, rerender });
  }
  return h("article", { class: `card status-${webhook.status}`, "aria-labelledby": titleId },
    h("h2", { id: titleId }, event ? label(event) : webhook.event_name, " ",
      h("code", {}, webhook.event_name)),
    h("dl", {},
      entry(t("status"), h("span", { class: `badge ${webhook.status}` }, statusText(webhook))),
      entry(t("url"), h("span", { class: "value" }, webhook.url)),
      entry(t("token"), h("span", { class: "value" }, webhook.token)),
      entry(t("lastDelivery"), dateTime(webhook.last_delivery_at)),
      entry(t("lastSuccess"), dateTime(webhook.last_success_at)),
      webhook.consecutive_failures > 0
        && entry(t("failuresInARow"), String(webhook.consecutive_failures))),
    actions, panel);
}

async function remove(webhook, event, rerender) {
  const name = event ? label(event) : webhook.event_name;
  if (!window.confirm(t("confirmDelete", { event: name, url: webhook.url }))) return;
  try {
    await api.remove(`/v2/webhooks/${webhook.id}`);
  } catch (error) {
    report(error);
    return;
  }
  await rerender({ focus: true });
  announce(t("deleted"));
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

async function sendTest(panel, webhook, button) {
  button.disabled = true;
  const say = (text, kind = "info") =>
    panel.replaceChildren(h("p", { class: `message ${kind}` }, text));
  try {
    const { data } = await api.post(`/v2/webhooks/${webhook.id}/test`);
    say(t("testQueued"));
    const path = `/v2/webhooks/${webhook.id}/deliveries/${data.id}`;
    for (let tries = 0; tries < 40; tries += 1) {
      await sleep(500);
      let delivery;
      try {
        ({ data: delivery } = await api.get(path));
      } catch (error) {
        if (error.status === 404) continue; // not picked up by a worker yet
        throw error;
      }
      const last = delivery.attempts[delivery.attempts.length - 1];
      if (delivery.status === "delivered") {
        say(t("testDelivered", { code: last.status_code }), "success");
        return;
      }
      if (delivery.status === "failed") {
        say(t("testFailed", { reason: last.error || `HTTP ${last.status_code}` }), "error");
        return;
      }
    }
    say(t("testStillPending"));
  } catch (error) {
    report(error);
  } finally {
    button.disabled = false;
  }
}
