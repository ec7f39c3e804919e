// Validating an endpoint ("Webhook validieren"): the service POSTs a secret to the URL,
// the person reads it where the endpoint logs it and types it back here.
import * as api from "./api.js";
import { h, uid } from "./dom.js";
import { announce, clearFieldErrors, describe, errorSlot, report } from "./feedback.js";
import { t } from "./i18n.js";

/** Fill `panel` with the validation step of `webhook`: first send the secret (if `send`),
 * then ask for it. */
export async function validationPanel(panel, webhook, { send, rerender, trigger }) {
  if (send) {
    if (trigger) trigger.disabled = true;
    panel.replaceChildren(h("p", { class: "message" }, t("validating")));
    try {
      const { data } = await api.post(`/v2/webhooks/${webhook.id}/validate`);
      const sent = data.validation_request;
      panel.replaceChildren(h("p", { class: `message ${sent.accepted ? "success" : "warning"}` },
        t(sent.accepted ? "validationSent" : "validationSentNotAccepted",
          { code: sent.status_code, ms: sent.duration_ms })));
    } catch (error) {
      panel.replaceChildren(h("p", { class: "message error", role: "alert" }, describe(error)));
      return;
    } finally {
      if (trigger) trigger.disabled = false;
    }
  } else {
    panel.replaceChildren();
  }
  const id = uid("secret");
  const input = h("input", { id, name: "secret", type: "text", required: true,
    autocomplete: "off", spellcheck: "false", class: "secret-input" });
  const slot = errorSlot(input);
  const form = h("form", { class: "inline-form", onsubmit: async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    try {
      await api.post(`/v2/webhooks/${webhook.id}/verify`, { secret: input.value.trim() });
    } catch (error) {
      report(error, { secret: input });
      return;
    }
    await rerender({ focus: false });
    announce(t("nowActive"));
  } },
  h("div", { class: "field" }, h("label", { for: id }, t("secret")), input, slot),
  h("button", { type: "submit" }, t("confirm")));
  panel.append(form);
  if (send) input.focus();
}
