// The log ("Protokoll"): a webhook's deliveries, newest first, with every attempt, a
// "Redeliver" button, and the last 24 hours as a chart.
import * as api from "./api.js";
import * as catalogue from "./catalogue.js";
import { chart } from "./chart.js";
import { h, viewHeading } from "./dom.js";
import { announce, describe, report } from "./feedback.js";
import { dateTime, label, t } from "./i18n.js";

const DAY = 24 * 3600 * 1000;
const SHOWN = 50;
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** The deliveries of the last 24 hours at least (and never fewer than one page). */
async function deliveries(id) {
  const found = [];
  let cursor = "";
  for (let page = 1; page <= 10; page += 1) {
    const { data, paging } = await api.get(`/v2/webhooks/${id}/deliveries?items_per_page=500`
      + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""));
    found.push(...data);
    const oldest = data[data.length - 1];
    cursor = paging.next_cursor;
    if (!cursor || !oldest || Date.parse(oldest.created_at) < Date.now() - DAY) break;
  }
  return found;
}

export async function render(main, { id }, context) {
  main.replaceChildren(viewHeading(t("log")), h("p", { role: "status" }, t("loading")));
  let webhook;
  let events;
  let list;
  try {
    [{ data: webhook }, events, list] = await Promise.all([
      api.get(`/v2/webhooks/${id}`), catalogue.load(), deliveries(id)]);
  } catch (error) {
    report(error);
    return;
  }
  const event = events.event(webhook.event_name);
  const eventName = (name) => {
    const known = events.event(name);
    return known ? label(known) : name;
  };
  const again = () => render(main, { id }, context);
  const rows = h("tbody", {});
  let shown = 0;
  const more = h("button", { type: "button", class: "quiet", onclick: showMore },
    t("moreDeliveries"));
  function showMore() {
    rows.append(...list.slice(shown, shown + SHOWN).map((delivery) =>
      row(webhook, delivery, eventName, again)));
    shown += SHOWN;
    more.hidden = shown >= list.length;
  }
  showMore();
  main.replaceChildren(
    h("p", {}, h("a", { href: "#/" }, t("back"))),
    viewHeading(t("logHeading", { event: event ? label(event) : webhook.event_name })),
    h("p", {}, t("logIntro", { url: webhook.url })),
    h("section", { "aria-labelledby": "chart-heading" },
      h("h2", { id: "chart-heading" }, t("chartHeading")), chart(list)),
    h("section", { "aria-labelledby": "deliveries-heading" },
      h("div", { class: "toolbar" },
        h("h2", { id: "deliveries-heading" }, t("deliveriesHeading")),
        h("button", { type: "button", class: "quiet", onclick: again }, t("refresh"))),
      list.length
        ? h("div", { class: "table-wrap" }, h("table", { class: "log" },
          h("thead", {}, h("tr", {}, [t("time"), t("event"), t("resource"), t("status"),
            t("attempts"), t("actions")].map((text) => h("th", { scope: "col" }, text)))),
          rows), more)
        : h("p", { class: "empty" }, t("noDeliveries"))));
}

function row(webhook, delivery, eventName, again) {
  const attempts = h("div", { class: "attempts" });
  const details = h("details", { ontoggle: () => {
    if (details.open && !attempts.childElementCount) showAttempts(webhook, delivery, attempts);
  } },
  h("summary", {}, String(delivery.attempt_count), h("span", { class: "visually-hidden" },
    ` – ${t("showAttempts", { event: eventName(delivery.event_name),
      time: dateTime(delivery.created_at) })}`)),
  attempts);
  return h("tr", {},
    h("td", {}, dateTime(delivery.created_at)),
    h("td", {}, eventName(delivery.event_name)),
    h("td", {}, `${delivery.resource_type} ${delivery.resource_id}`,
      delivery.test && h("span", { class: "badge test" }, t("testMark"))),
    h("td", {}, h("span", { class: `badge ${delivery.status}` },
      t(`delivery.${delivery.status}`))),
    h("td", {}, details),
    h("td", {}, h("button", { type: "button",
      onclick: (click) => redeliver(webhook, delivery, click.target, again) },
    t("redeliver"))));
}

async function showAttempts(webhook, delivery, into) {
  into.replaceChildren(h("p", {}, t("loading")));
  let found;
  try {
    ({ data: found } = await api.get(`/v2/webhooks/${webhook.id}/deliveries/${delivery.id}`));
  } catch (error) {
    into.replaceChildren(h("p", { class: "message error" }, describe(error)));
    return;
  }
  into.replaceChildren(h("ol", {}, found.attempts.map((attempt) => h("li", {},
    h("p", { class: "attempt-title" }, t("attempt", { number: attempt.attempt }), " · ",
      t(`trigger.${attempt.trigger}`), " · ", dateTime(attempt.requested_at)),
    h("dl", {},
      h("dt", {}, t("duration")), h("dd", {}, t("durationMs", { ms: attempt.duration_ms })),
      attempt.status_code !== null && [h("dt", {}, t("statusCode")),
        h("dd", {}, String(attempt.status_code))],
      attempt.error && [h("dt", {}, t("error")), h("dd", {}, attempt.error)],
      attempt.next_attempt_at && [h("dt", {}, t("nextAttempt")),
        h("dd", {}, dateTime(attempt.next_attempt_at))],
      h("dt", {}, t("answer")),
      h("dd", {}, h("pre", { class: "answer" },
        attempt.response_body ? attempt.response_body.slice(0, 500) : t("emptyAnswer"))))))));
}

async function redeliver(webhook, delivery, button, again) {
  button.disabled = true;
  const path = `/v2/webhooks/${webhook.id}/deliveries/${delivery.id}`;
  try {
    await api.post(`${path}/redeliver`);
    announce(t("redelivered"));
    for (let tries = 0; tries < 20; tries += 1) { // until the worker has sent it
      await sleep(500);
      const { data } = await api.get(path);
      if (data.attempt_count > delivery.attempt_count && data.status !== "pending") break;
    }
    await again();
    announce(t("redelivered"));
  } catch (error) {
    report(error);
    button.disabled = false;
  }
}
