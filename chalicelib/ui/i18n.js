// Language: German where the browser prefers German, English otherwise, or what the person
// chose with the switch (kept in localStorage). Every string is filled in as text.
import de from "./strings-de.js";
import en from "./strings-en.js";

const STRINGS = { en, de };
export const LANGUAGES = Object.keys(STRINGS);
const CHOICE = "webhooks.language";

function preferred() {
  const saved = localStorage.getItem(CHOICE);
  if (saved in STRINGS) return saved;
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const base = tag.toLowerCase().split("-")[0];
    if (base in STRINGS) return base;
  }
  return "en";
}

let current = preferred();

export function language() {
  return current;
}

export function setLanguage(code) {
  if (!(code in STRINGS)) return;
  current = code;
  localStorage.setItem(CHOICE, code);
  document.documentElement.lang = code;
}

export function nameOf(code) {
  return STRINGS[code].languageName;
}

/** The string `key` in the current language, `{name}` replaced by `values.name`. */
export function t(key, values = {}) {
  const template = STRINGS[current][key] ?? STRINGS.en[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) =>
    name in values ? String(values[name]) : whole);
}

/** The catalogue's label of an event or type in the current language. */
export function label(item) {
  return (current === "de" ? item.label_de : item.label_en) || item.event_name || item.type;
}

export function dateTime(iso) {
  if (!iso) return t("never");
  return new Intl.DateTimeFormat(current, { dateStyle: "medium", timeStyle: "medium" })
    .format(new Date(iso));
}

export function hourOf(date) {
  return new Intl.DateTimeFormat(current, { hour: "2-digit", minute: "2-digit" }).format(date);
}

document.documentElement.lang = current;
