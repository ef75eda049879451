// One conflict: base, A and B side by side (text diffs against the base, tag chips), the rule
// or policy that opened it, and the decision: take A, take B, keep base, or a merged value,
// optionally applied at once.

import { Api } from "./api.js";
import { diffNodes } from "./diff.js";
import {
  FIELD_LABELS, KIND_LABELS, announce, field, h, isTyping, noBase, render, scopeLabel, timeAgo, when,
} from "./dom.js";
import { CHOICES } from "./inbox.js";

const TEXT_KINDS = new Set(["NOTE", "NOTE_DELETE", "FIELD"]);

function missing(label) {
  return h("p", { class: "value-missing" }, label);
}

function tagKey(tag) {
  return String(tag).trim().toLowerCase();
}

/** Chips for one side's tag set, marked against the base (or, with no base, the other side). */
export function tagChips(tags, reference, { referenceIsBase }) {
  if (!Array.isArray(tags)) return missing("(no tags)");
  const ref = new Set((reference || []).map(tagKey));
  const own = new Set(tags.map(tagKey));
  const chips = tags.map((tag) => {
    const changed = !ref.has(tagKey(tag));
    const label = referenceIsBase ? "added" : "only on this side";
    return h("li", { class: `chip ${changed ? "chip-added" : ""}` },
      changed ? h("span", { class: "chip-mark", "aria-hidden": "true" }, "+") : null,
      tag,
      changed ? h("span", { class: "visually-hidden" }, ` (${label})`) : null);
  });
  if (referenceIsBase) {
    for (const tag of reference || []) {
      if (!own.has(tagKey(tag))) {
        chips.push(h("li", { class: "chip chip-removed" },
          h("span", { class: "chip-mark", "aria-hidden": "true" }, "−"),
          h("s", {}, tag),
          h("span", { class: "visually-hidden" }, " (removed)")));
      }
    }
  }
  return chips.length ? h("ul", { class: "chips", role: "list" }, chips) : missing("(no tags)");
}

function textValue(value, base, { isBase, deletedLabel }) {
  if (value === null || value === undefined) return missing(isBase ? "(no base: never agreed)" : deletedLabel);
  if (isBase || base === null || base === undefined) return h("div", { class: "text-value" }, String(value));
  return h("div", { class: "text-value" }, diffNodes(String(base), String(value)));
}

function valueOf(conflict, which) {
  return { base: conflict.baseValue, a: conflict.aValue, b: conflict.bValue }[which];
}

function renderValue(conflict, which, against = "base") {
  const value = valueOf(conflict, which);
  // Text changes are marked against the base, or against the other side (what A and B
  // disagree on), as the operator chooses.
  const base = against === "other" && which !== "base"
    ? valueOf(conflict, which === "a" ? "b" : "a")
    : conflict.baseValue;
  const isBase = which === "base";
  const deletedLabel = conflict.kind === "NOTE_DELETE" ? "(note deleted on this side)" : "(none)";
  if (conflict.kind === "TAGS_INITIAL") {
    if (isBase) return Array.isArray(base) ? tagChips(base, base, { referenceIsBase: true }) : missing("(no base: newly matched contact)");
    const other = which === "a" ? conflict.bValue : conflict.aValue;
    return Array.isArray(base)
      ? tagChips(value, base, { referenceIsBase: true })
      : tagChips(value, other, { referenceIsBase: false });
  }
  if (TEXT_KINDS.has(conflict.kind) && (value === null || typeof value === "string")) {
    return textValue(value, base, { isBase, deletedLabel });
  }
  if (value === null || value === undefined) return missing(isBase ? "(no base)" : deletedLabel);
  return h("pre", { class: "json-value" }, JSON.stringify(value, null, 2));
}

function column(conflict, which, title, note) {
  return h("section", { class: `side-col side-col-${which}`, "aria-labelledby": `col-${which}` },
    h("header", { class: "side-col-head" },
      h("h2", { id: `col-${which}` }, title),
      note ? h("span", { class: "muted small" }, note) : null),
    h("div", { class: "side-col-body", dataset: { side: which } }, renderValue(conflict, which)));
}

/** "Mark changes against: the base / the other side" (text values only). */
function compareControl(conflict, root) {
  const texts = [conflict.aValue, conflict.bValue].every((v) => v === null || typeof v === "string");
  if (!TEXT_KINDS.has(conflict.kind) || !texts) return null;
  const name = "compare-against";
  const option = (value, label, checked) => {
    const input = h("input", { type: "radio", name, value, checked, id: `compare-${value}` });
    input.addEventListener("change", () => {
      for (const which of ["a", "b"]) {
        const body = root.querySelector(`.side-col-body[data-side="${which}"]`);
        body.replaceChildren(renderValue(conflict, which, value));
      }
      const legend = root.querySelector(".legend-against");
      legend.textContent = value === "base" ? "the base" : "the other side";
    });
    return h("span", { class: "radio" }, input, h("label", { for: input.id }, label));
  };
  return h("fieldset", { class: "radios compare" },
    h("legend", {}, "Mark changes against"),
    option("base", "The base", true),
    option("other", "The other side", false));
}

function reasonPanel(conflict) {
  const reason = conflict.reason;
  if (!reason) return null;
  const compared = reason.compared && Object.keys(reason.compared).length
    ? h("details", { class: "compared" }, h("summary", {}, "Values compared"),
      h("pre", { class: "json-value" }, JSON.stringify(reason.compared, null, 2)))
    : null;
  return h("section", { class: "reason", "aria-labelledby": "reason-title" },
    h("h2", { id: "reason-title", class: "small-title" }, "Why this is a conflict"),
    h("dl", { class: "reason-list" },
      h("dt", {}, "Rule"), h("dd", {}, h("code", {}, reason.rule)),
      reason.policy ? [h("dt", {}, "Policy"), h("dd", {}, h("code", {}, reason.policy))] : null,
      reason.overrideId ? [h("dt", {}, "Override"), h("dd", {}, h("code", {}, reason.overrideId))] : null,
      reason.detail ? [h("dt", {}, "Detail"), h("dd", {}, reason.detail)] : null),
    compared);
}

function customEditor(conflict) {
  if (conflict.kind === "TAGS_INITIAL") {
    const union = [...new Map([...(conflict.aValue || []), ...(conflict.bValue || [])].map((t) => [tagKey(t), t])).values()];
    const input = h("input", { type: "text", name: "merged-tags", value: union.join(", ") });
    return {
      control: field("Merged tags (comma separated)", input),
      input,
      read: () => input.value.split(",").map((t) => t.trim()).filter(Boolean),
    };
  }
  if (conflict.kind === "FIELD") {
    const label = FIELD_LABELS[conflict.scope] || conflict.scope;
    const input = h("input", { type: "text", name: "merged-field", value: conflict.aValue ?? "" });
    return { control: field(`Merged ${label.toLowerCase()}`, input), input, read: () => input.value };
  }
  if (conflict.kind === "NOTE" || conflict.kind === "NOTE_DELETE") {
    const start = conflict.aValue ?? conflict.bValue ?? conflict.baseValue ?? "";
    const input = h("textarea", { name: "merged-note", rows: 8 }, start);
    return { control: field("Merged note", input, "Starts from side A's text: edit it into the version to keep."), input, read: () => input.value };
  }
  const input = h("textarea", { name: "merged-json", rows: 6, class: "mono" }, JSON.stringify(conflict.aValue, null, 2));
  return {
    control: field("Merged value (JSON)", input, conflict.kind === "CONTACT_MATCH" ? 'A match: {"a_id": "…", "b_id": "…"}' : null),
    input,
    read: () => JSON.parse(input.value),
  };
}

export async function show(root, ctx, id) {
  const data = await ctx.api.op("conflict_detail", "ConflictDetail", { id });
  const conflict = data.conflict;
  if (!conflict) {
    render(root, h("div", { class: "notice notice-error", role: "alert" }, "No such conflict."),
      h("p", {}, h("a", { href: "#/inbox" }, "Back to the inbox")));
    return {};
  }
  const name = conflict.link?.displayName || "(no contact)";
  const what = scopeLabel(conflict);
  ctx.title(`${what} · ${name}`);
  const isOpen = conflict.status === "OPEN";
  const canResolve = ctx.canAct && isOpen;
  let busy = false;

  const error = h("div", { class: "form-error", role: "alert" });
  const applyNow = h("input", { type: "checkbox", name: "apply-now", id: "apply-now" });
  const editor = canResolve ? customEditor(conflict) : null;
  const editForm = canResolve
    ? h("form", { class: "custom-form", hidden: true, "aria-label": "Merged value" },
      editor.control,
      h("div", { class: "actions" },
        h("button", { type: "submit", class: "btn btn-primary" }, "Resolve with this value"),
        h("button", { type: "button", class: "btn btn-quiet", onclick: () => toggleEdit(false) }, "Cancel")))
    : null;
  editForm?.addEventListener("submit", (event) => {
    event.preventDefault();
    let value;
    try {
      value = editor.read();
    } catch (err) {
      error.textContent = `The merged value is not valid: ${err.message}`;
      editor.input.focus();
      return;
    }
    resolve("CUSTOM", value);
  });

  function toggleEdit(open) {
    editForm.hidden = !open;
    editButton.setAttribute("aria-expanded", String(open));
    if (open) editor.input.focus();
    else editButton.focus();
  }

  const editButton = canResolve
    ? h("button", { type: "button", class: "btn", "aria-expanded": "false", "aria-keyshortcuts": "e", onclick: () => toggleEdit(editForm.hidden) },
      "Edit merged value…", " ", h("kbd", { "aria-hidden": "true" }, "E"))
    : null;
  const choiceButtons = canResolve
    ? CHOICES.map(({ choice, label, key }) => h("button", {
      type: "button",
      class: `btn btn-choice btn-${choice.toLowerCase()}`,
      "aria-keyshortcuts": key,
      disabled: choice === "BASE" && noBase(conflict),
      dataset: { choice },
      onclick: () => resolve(choice),
    }, label, " ", h("kbd", { "aria-hidden": "true" }, key.toUpperCase())))
    : [];

  const decision = canResolve
    ? h("section", { class: "decision", "aria-labelledby": "decide-title" },
      h("h2", { id: "decide-title", class: "small-title" }, "Decide"),
      h("div", { class: "decision-row", role: "group", "aria-label": "Resolution" }, choiceButtons, editButton),
      h("div", { class: "apply-now" }, applyNow, h("label", { for: "apply-now" }, "Apply now (run the pair right after resolving)")),
      editForm,
      error)
    : h("section", { class: "decision decision-done", "aria-labelledby": "decide-title" },
      h("h2", { id: "decide-title", class: "small-title" }, isOpen ? "Open" : "Resolved"),
      isOpen
        ? h("p", { class: "muted" }, "Your key can read conflicts but not resolve them.")
        : h("p", {}, `Resolved with ${conflict.resolution?.choice ?? "—"}`,
          conflict.resolvedBy ? ` by ${conflict.resolvedBy}` : "",
          conflict.resolvedAt ? ` on ${when(conflict.resolvedAt)}` : "", "."));

  async function resolve(choice, value = null) {
    if (busy) return;
    busy = true;
    error.textContent = "";
    for (const b of root.querySelectorAll(".decision button")) b.disabled = true;
    const started = applyNow.checked ? ctx.runStarting() : null;
    let runId = null;
    try {
      const vars = { id: conflict.id, choice, applyNow: applyNow.checked };
      if (choice === "CUSTOM") vars.value = value;
      const result = await ctx.api.op("resolve", "ConflictResolve", vars);
      const payload = Api.check(result.conflictResolve);
      runId = payload.run?.id ?? null;
      const label = choice === "CUSTOM" ? "merged value" : CHOICES.find((c) => c.choice === choice).spoken;
      const ran = payload.run ? ` and applied (run ${payload.run.status})` : "";
      announce(`Resolved ${name} (${what}): ${label}${ran}.`);
      ctx.refreshCount();
      ctx.navigate("#/inbox");
    } catch (err) {
      error.textContent = `Not resolved: ${err.message}`;
      for (const b of root.querySelectorAll(".decision button")) b.disabled = false;
      choiceButtons.forEach((b) => { b.disabled = b.dataset.choice === "BASE" && noBase(conflict); });
    } finally {
      started?.(runId);
      busy = false;
    }
  }

  const shortcuts = h("p", { class: "shortcuts" },
    canResolve ? [
      h("span", {}, h("kbd", {}, "A"), " take A"),
      h("span", {}, h("kbd", {}, "B"), " take B"),
      h("span", {}, h("kbd", {}, "R"), " keep base"),
      h("span", {}, h("kbd", {}, "E"), " edit"),
    ] : null,
    h("span", {}, h("kbd", {}, "Esc"), " back to the inbox"));

  const sideLabel = (side) => side?.contactId ? `contact ${side.contactId}` : null;
  render(root, h("article", { class: "conflict", "aria-labelledby": "conflict-title" },
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
      h("a", { href: "#/inbox" }, "Inbox"), h("span", { "aria-hidden": "true" }, " / "), h("span", { "aria-current": "page" }, what)),
    h("div", { class: "page-head" },
      h("h1", { id: "conflict-title" }, `${what} — ${name}`),
      h("p", { class: "meta" },
        h("span", { class: `kind kind-${conflict.kind.toLowerCase()}` }, KIND_LABELS[conflict.kind]),
        h("span", { class: `status status-${conflict.status.toLowerCase()}` }, conflict.status.toLowerCase()),
        h("span", {}, "Pair ", h("strong", {}, conflict.pair?.name || "—")),
        h("span", {}, "Detected ", timeAgo(conflict.detectedAt)),
        conflict.link ? h("a", { href: `#/contact/${encodeURIComponent(conflict.link.id)}` }, "Open contact") : null)),
    decision,
    shortcuts,
    h("div", { class: "sides" },
      column(conflict, "base", "Base", "last agreed"),
      column(conflict, "a", "Side A", sideLabel(conflict.link?.a)),
      column(conflict, "b", "Side B", sideLabel(conflict.link?.b))),
    h("div", { class: "legend-row" },
      h("p", { class: "legend muted small" },
        h("ins", { class: "d-ins" }, "added"), " and ", h("del", { class: "d-del" }, "removed"),
        " are marked against ", h("span", { class: "legend-against" }, "the base"), "."),
      compareControl(conflict, root)),
    reasonPanel(conflict),
    conflict.proposed ? h("p", { class: "muted" }, `Policy proposes: ${conflict.proposed.choice}.`) : null));
  root.querySelector("h1").setAttribute("tabindex", "-1");
  root.querySelector("h1").focus();

  return {
    onKey(event) {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      if (event.key === "Escape") {
        if (editForm && !editForm.hidden) { toggleEdit(false); return; }
        ctx.navigate("#/inbox");
        return;
      }
      if (isTyping(event) || !canResolve) return;
      const shortcut = CHOICES.find((c) => c.key === event.key);
      if (shortcut) {
        event.preventDefault();
        if (!(shortcut.choice === "BASE" && noBase(conflict))) resolve(shortcut.choice);
      } else if (event.key === "e") {
        event.preventDefault();
        toggleEdit(true);
      }
    },
    onEvent(event) {
      if (event.type === "conflictResolved" && event.conflict.id === conflict.id && !busy) {
        announce(`This conflict was resolved by ${event.conflict.resolvedBy || "someone else"}.`);
        ctx.reload();
      }
    },
  };
}
