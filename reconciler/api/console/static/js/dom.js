// Small DOM helpers: element building without innerHTML (values from the sides are never
// parsed as HTML), time formatting, announcements for screen readers.

/**
 * h("button", {class: "btn", onclick: fn}, "Take A") -> element.
 * Attributes: "class", "dataset" (object), "on<event>" (listener), booleans, strings.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "value" && "value" in el) el.value = value;
    else if (name === "checked") el.checked = Boolean(value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An SVG element (the chart). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  append(el, children);
  return el;
}

let uid = 0;
/** A fresh id for label/control pairs. */
export function nextId(prefix = "f") {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form control: <div class="field"><label for>…</label>control</div>. */
export function field(labelText, control, hint) {
  if (!control.id) control.id = nextId();
  const parts = [h("label", { for: control.id }, labelText), control];
  if (hint) {
    const hintEl = h("span", { class: "hint", id: `${control.id}-hint` }, hint);
    control.setAttribute("aria-describedby", hintEl.id);
    parts.push(hintEl);
  }
  return h("div", { class: "field" }, parts);
}

/** <select> from [value, label] pairs. */
export function select(options, value, attrs = {}) {
  return h(
    "select",
    attrs,
    options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)),
  );
}

const announcer = () => document.getElementById("announcer");

/** Tell screen readers (and show a toast): "Conflict resolved with A". */
export function announce(message, { tone = "info" } = {}) {
  const region = announcer();
  if (region) {
    // Re-setting identical text is not announced again: clear first.
    region.textContent = "";
    requestAnimationFrame(() => { region.textContent = message; });
  }
  const toasts = document.getElementById("toasts");
  if (toasts) {
    const toast = h("div", { class: `toast toast-${tone}` }, message);
    toasts.append(toast);
    setTimeout(() => toast.remove(), tone === "error" ? 8000 : 4000);
  }
}

const UNITS = [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]];

/** "3m", "2h", "5d" since an ISO time. */
export function age(iso, now = Date.now()) {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  for (const [unit, size] of UNITS) if (seconds >= size) return `${Math.floor(seconds / size)}${unit}`;
  return "now";
}

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return date.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
}

/** <time datetime=…>3m ago</time> with the full time as its title. */
export function timeAgo(iso) {
  const since = age(iso);
  return h("time", { datetime: iso, title: when(iso) }, since === "now" ? "just now" : `${since} ago`);
}

export const KIND_LABELS = {
  NOTE: "Note",
  NOTE_DELETE: "Note deleted",
  FIELD: "Field",
  TAGS_INITIAL: "Tags",
  CONTACT_MATCH: "Contact match",
  CONTACT_DELETE: "Contact deleted",
};

export const FIELD_LABELS = {
  first_name: "First name",
  last_name: "Last name",
  email: "Email",
  phone: "Phone",
};

const NO_BASE_KINDS = new Set(["CONTACT_DELETE", "CONTACT_MATCH"]);

/**
 * Whether "keep base" cannot settle `conflict`: a deleted or ambiguous contact has no base to
 * keep, nor does a newly matched contact's tag set (keeping "nothing" would drop every tag).
 */
export function noBase(conflict) {
  return NO_BASE_KINDS.has(conflict.kind) || (conflict.kind === "TAGS_INITIAL" && conflict.baseValue === null);
}

/** A short, human label for what a conflict is about. */
export function scopeLabel(conflict) {
  if (conflict.kind === "FIELD") return FIELD_LABELS[conflict.scope] || conflict.scope;
  if (conflict.kind === "TAGS_INITIAL") return "Tag set";
  if (conflict.kind === "NOTE" || conflict.kind === "NOTE_DELETE") return "Note body";
  return conflict.scope;
}

/** A one-line preview of a conflict value. */
export function preview(value, limit = 60) {
  if (value === null || value === undefined) return "(none)";
  let text = Array.isArray(value) ? value.join(", ") : typeof value === "string" ? value : JSON.stringify(value);
  text = text.replace(/\s+/g, " ").trim();
  if (!text) return "(empty)";
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

/** Empty an element and put `children` in it. */
export function render(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const NOT_TEXT = new Set(["checkbox", "radio", "button", "submit", "reset"]);

/** Whether a key press goes into a text field or a list (then no shortcut applies). */
export function isTyping(event) {
  const t = event.target;
  if (!(t instanceof HTMLElement)) return false;
  if (t.tagName === "INPUT") return !NOT_TEXT.has(t.type);
  return t.isContentEditable || t.tagName === "TEXTAREA" || t.tagName === "SELECT";
}
