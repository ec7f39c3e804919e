// Creating ("Neuer Webhook") and editing ("Bearbeiten") a webhook: the event from the
// catalogue's dropdown, grouped by type, a token and a URL. Refusals of the API show next
// to the field they concern.
import * as api from "./api.js";
import * as catalogue from "./catalogue.js";
import { h, viewHeading } from "./dom.js";
import { clearFieldErrors, errorSlot, navigate, report } from "./feedback.js";
import { label, t } from "./i18n.js";

function eventOptions(events, current) {
  return events.types.map((type) => {
    // Moving a webhook within its own type does not use another slot.
    const full = type.remaining <= 0 && type.type !== current?.split(".")[0];
    return h("optgroup", { label: label(type) }, type.events.map((event) => {
      let reason = null;
      if (!event.available) reason = t("notInPlan");
      else if (full) reason = t("typeFull", { used: type.used, limit: type.limit });
      const text = reason ? `${label(event)} (${reason})` : label(event);
      return h("option", { value: event.event_name, disabled: Boolean(reason),
        selected: event.event_name === current }, text);
    }));
  });
}

function field(id, text, input, hint) {
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) input.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: id }, text), input,
    hint && h("p", { class: "hint", id: hintId }, hint), errorSlot(input));
}

export async function render(main, { id }) {
  const editing = id !== undefined;
  const heading = t(editing ? "editHeading" : "newHeading");
  main.replaceChildren(viewHeading(heading), h("p", { role: "status" }, t("loading")));
  let events;
  let webhook = null;
  try {
    [events, webhook] = await Promise.all([catalogue.load(),
      editing ? api.get(`/v2/webhooks/${id}`).then((r) => r.data) : null]);
  } catch (error) {
    report(error);
    return;
  }
  const select = h("select", { id: "event", name: "event_name", required: true },
    !editing && h("option", { value: "", disabled: true, selected: true }, t("chooseEvent")),
    eventOptions(events, webhook?.event_name));
  const token = h("input", { id: "token", name: "token", type: "text", required: true,
    maxlength: "255", autocomplete: "off", spellcheck: "false", value: webhook?.token ?? "" });
  const url = h("input", { id: "url", name: "url", type: "url", required: true,
    maxlength: "2048", autocomplete: "url", spellcheck: "false", value: webhook?.url ?? "",
    placeholder: "https://" });
  const save = h("button", { type: "submit" }, t("save"));
  const form = h("form", { onsubmit: submit },
    field("event", t("event"), select),
    field("token", t("token"), token, t("tokenHint")),
    field("url", t("url"), url, editing ? `${t("urlHint")} ${t("urlChangeNote")}` : t("urlHint")),
    h("div", { class: "actions" }, save,
      h("a", { class: "button quiet", href: "#/" }, t("cancel"))));

  async function submit(event) {
    event.preventDefault();
    clearFieldErrors(form);
    const values = { event_name: select.value, token: token.value, url: url.value.trim() };
    const changed = editing
      ? Object.fromEntries(Object.entries(values).filter(([k, v]) => v !== webhook[k]))
      : values;
    save.disabled = true;
    try {
      if (!editing) await api.post("/v2/webhooks", changed);
      else if (Object.keys(changed).length) {
        const { data } = await api.put(`/v2/webhooks/${id}`, changed);
        webhook = data;
      }
    } catch (error) {
      report(error, { event_name: select, token, url });
      save.disabled = false;
      return;
    }
    navigate("#/", t(editing && "url" in changed ? "savedPending" : "saved"));
  }

  main.replaceChildren(h("section", { class: "narrow" }, viewHeading(heading),
    editing && h("p", { class: "note" }, t("urlChangeNote")), form));
}
