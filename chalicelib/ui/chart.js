// The log's chart: the last 24 hours' deliveries per hour, delivered against failed, so a
// person sees at a glance whether an endpoint is healthy. Pure SVG built from elements.
import { h, svg } from "./dom.js";
import { hourOf, t } from "./i18n.js";

const HOUR = 3600 * 1000;
const BAR = 10;
const SLOT = 30;
const HEIGHT = 120;
const TOP = 8;
const BOTTOM = 20;

/** Count deliveries per hour of the last 24 (oldest first), by when they were created. */
export function hourly(deliveries, now = Date.now()) {
  const end = Math.floor(now / HOUR) * HOUR + HOUR; // the end of the current hour
  const hours = Array.from({ length: 24 }, (_, i) => ({
    start: new Date(end - (24 - i) * HOUR), delivered: 0, failed: 0 }));
  for (const delivery of deliveries) {
    const index = 24 - Math.ceil((end - Date.parse(delivery.created_at)) / HOUR);
    if (index < 0 || index > 23) continue;
    if (delivery.status === "delivered") hours[index].delivered += 1;
    if (delivery.status === "failed") hours[index].failed += 1;
  }
  return hours;
}

export function chart(deliveries) {
  const hours = hourly(deliveries);
  const delivered = hours.reduce((sum, hour) => sum + hour.delivered, 0);
  const failed = hours.reduce((sum, hour) => sum + hour.failed, 0);
  const summary = t("chartSummary", { delivered, failed });
  const highest = Math.max(1, ...hours.flatMap((hour) => [hour.delivered, hour.failed]));
  const scale = (count) => (count / highest) * (HEIGHT - TOP - BOTTOM);
  const base = HEIGHT - BOTTOM;
  const groups = hours.map((hour, i) => {
    const x = i * SLOT + 4;
    const text = t("chartHour", { hour: hourOf(hour.start), delivered: hour.delivered,
      failed: hour.failed });
    return svg("g", {},
      svg("title", {}, text),
      svg("rect", { class: "bar delivered", x, y: base - scale(hour.delivered), width: BAR,
        height: scale(hour.delivered) }),
      svg("rect", { class: "bar failed", x: x + BAR + 2, y: base - scale(hour.failed),
        width: BAR, height: scale(hour.failed) }),
      i % 6 === 0 && svg("text", { x, y: HEIGHT - 4, class: "axis" }, hourOf(hour.start)));
  });
  const summaryId = "chart-summary";
  return h("figure", { class: "chart" },
    svg("svg", { viewBox: `0 0 ${24 * SLOT} ${HEIGHT}`, role: "img",
      "aria-labelledby": summaryId, preserveAspectRatio: "none" },
    svg("line", { x1: 0, x2: 24 * SLOT, y1: base, y2: base, class: "baseline" }), groups),
    h("figcaption", {},
      h("span", { id: summaryId }, summary), " ",
      h("span", { class: "legend delivered" }, t("chartDelivered")), " ",
      h("span", { class: "legend failed" }, t("chartFailed"))));
}
