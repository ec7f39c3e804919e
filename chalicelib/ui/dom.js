// Building the page from elements. Text is always a text node (or textContent): nothing
// here ever parses a string as HTML, so a token like <img onerror=…> stays text.

const PROPERTIES = new Set(["value", "checked", "disabled", "selected", "hidden"]);

function build(element, props, children) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") element.textContent = String(value);
    else if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else if (PROPERTIES.has(key)) element[key] = value;
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An HTML element: h("button", {type: "button", onclick}, "Save"). */
export function h(tag, props = {}, ...children) {
  return build(document.createElement(tag), props, children);
}

/** An SVG element, for the log's chart. */
export function svg(tag, props = {}, ...children) {
  return build(document.createElementNS("http://www.w3.org/2000/svg", tag), props, children);
}

let counter = 0;

/** An id unique in the page, for label/aria references. */
export function uid(prefix) {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** A heading that takes focus when a view opens, so screen readers announce the view. */
export function viewHeading(text) {
  return h("h1", { tabindex: "-1", id: "view-heading" }, text);
}
