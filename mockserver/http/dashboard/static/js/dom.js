// Building the page without ever parsing a string as HTML: every value becomes a text node or an
// attribute value, so a prompt holding <script> or <img onerror> is shown, never run.

const SVG = "http://www.w3.org/2000/svg";

function fill(node, props, children) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "on") {
      for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (name === "value" || name === "checked") {
      node[name] = value;
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

/** An HTML element: h("td", {class: "status"}, task.status). */
export function h(tag, props = {}, ...children) {
  return fill(document.createElement(tag), props, children);
}

/** An SVG element, for the charts. */
export function s(tag, props = {}, ...children) {
  return fill(document.createElementNS(SVG, tag), props, children);
}

/** Appends children; strings and numbers as text, null and false skipped, arrays flattened. */
export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replaces a node's content. */
export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

/** Only http(s) links are made clickable or previewed; anything else stays text. */
export function safeUrl(value) {
  try {
    const url = new URL(String(value), location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** A short, readable clock time for unix seconds. */
export function clockTime(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  return new Date(seconds * 1000).toISOString().slice(11, 23);
}

/** An age in seconds as "4.2 s", "3 min", "2 h". */
export function age(seconds) {
  if (seconds < 60) return `${Math.max(0, seconds).toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h`;
}

/** A CSS class for a status code: ok, refused (4xx), fault (5xx or a dropped connection). */
export function statusClass(code) {
  if (code >= 200 && code < 400) return "ok";
  if (code >= 400 && code < 500) return "refused";
  return "fault";
}
