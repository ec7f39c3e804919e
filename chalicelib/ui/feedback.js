// Telling a person what happened, in words: API refusals next to the field they concern,
// everything else in the notice area at the top of the page.
import { h, uid } from "./dom.js";
import { t } from "./i18n.js";

const notice = () => document.getElementById("notice");

/** A refusal of the API in the current language (never its JSON). */
export function describe(error) {
  const first = error.first || { type: "NetworkError" };
  const details = first.details || {};
  switch (first.type) {
    case "UrlNotAllowed": {
      const reason = `errors.url.${details.reason}`;
      const known = t(reason);
      return known !== reason ? known : t("errors.UrlNotAllowed", { message: first.message });
    }
    case "WrongValidationSecret": {
      const left = details.attempts_left ?? 0;
      if (left === 0) return t("errors.WrongValidationSecret.none");
      if (left === 1) return t("errors.WrongValidationSecret.one");
      return t("errors.WrongValidationSecret", { count: left });
    }
    case "MaxWebhooksOfPlanTypeReached":
      return t("errors.MaxWebhooksOfPlanTypeReached", { limit: details.limit ?? "" });
    case "EndpointUnreachable":
      return t("errors.EndpointUnreachable", { error: details.error || first.message });
    case "TooManyRequests":
      return t("errors.TooManyRequests",
        { seconds: details.retry_after ?? error.retryAfter ?? 60 });
    case "ServerError":
      return t("errors.ServerError", { status: error.status });
    default: {
      const key = `errors.${first.type}`;
      const known = t(key);
      return known !== key ? known : t("errors.other", { message: first.message });
    }
  }
}

/** Show a message in the notice area; `kind` "error" is announced at once. */
export function announce(text, kind = "info") {
  const area = notice();
  area.replaceChildren(h("p", { class: `message ${kind}`, role: kind === "error" ? "alert" : null },
    text));
}

export function clearNotice() {
  notice().replaceChildren();
}

let afterNavigation = null;

/** Go to another view (`#/...`) and say `text` once it is there. */
export function navigate(hash, text) {
  afterNavigation = text;
  location.hash = hash;
}

/** Called by the router when a view is drawn: the message `navigate` left, if any. */
export function arrived() {
  if (afterNavigation) announce(afterNavigation);
  afterNavigation = null;
}

/** A field's error slot: a paragraph the field names in aria-describedby. */
export function errorSlot(field) {
  const slot = h("p", { class: "field-error", id: uid("error"), hidden: true });
  const described = field.getAttribute("aria-describedby");
  field.setAttribute("aria-describedby", described ? `${described} ${slot.id}` : slot.id);
  field.errorSlot = slot;
  return slot;
}

export function clearFieldErrors(form) {
  for (const field of form.querySelectorAll("[aria-invalid]")) {
    field.removeAttribute("aria-invalid");
    field.errorSlot.hidden = true;
    field.errorSlot.textContent = "";
  }
}

/** Show an API refusal next to the field it names (by the API's `path`), or else in the
 * notice area. `fields` maps API paths to their inputs. */
export function report(error, fields = {}) {
  if (error.signedOut) return; // the sign-in view says so
  const path = error.first?.path;
  const field = path && fields[path];
  if (field && field.errorSlot) {
    field.setAttribute("aria-invalid", "true");
    field.errorSlot.textContent = describe(error);
    field.errorSlot.hidden = false;
    field.focus();
    return;
  }
  announce(describe(error), "error");
}
