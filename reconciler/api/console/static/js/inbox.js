// The inbox: open conflicts, filtered by pair, kind, contact text and age, with counts,
// keyboard navigation (j/k or arrows, Enter, x) and one-key resolutions (a, b, r) of the
// current row or of the selected rows.

import { Api } from "./api.js";
import {
  KIND_LABELS, announce, field, h, isTyping, noBase, preview, render, scopeLabel, select, timeAgo,
} from "./dom.js";

const AGES = [
  ["", "Any age"],
  ["3600", "Older than 1 hour"],
  ["86400", "Older than 1 day"],
  ["604800", "Older than 7 days"],
  ["2592000", "Older than 30 days"],
];
const COUNT_KEYS = {
  NOTE: "note", NOTE_DELETE: "noteDelete", FIELD: "field", TAGS_INITIAL: "tags",
  CONTACT_MATCH: "contactMatch", CONTACT_DELETE: "contactDelete",
};
export const CHOICES = [
  { key: "a", choice: "A", label: "Take A", spoken: "took side A" },
  { key: "b", choice: "B", label: "Take B", spoken: "took side B" },
  { key: "r", choice: "BASE", label: "Keep base", spoken: "kept the base" },
];

/**
 * A one-line preview of a text that starts where it parts from the other side's: two notes
 * that begin alike would otherwise show the same words in both columns.
 */
function distinct(value, other, limit = 48) {
  if (typeof value !== "string" || typeof other !== "string") return preview(value, limit);
  const flat = (text) => text.replace(/\s+/g, " ").trim();
  const [mine, theirs] = [flat(value), flat(other)];
  let same = 0;
  while (same < mine.length && mine[same] === theirs[same]) same += 1;
  if (same < 24) return preview(value, limit);
  const cut = mine.lastIndexOf(" ", same - 1);
  return `…${preview(mine.slice(cut + 1), limit - 1)}`;
}

// Kept while the tab lives: coming back from a conflict restores the same inbox.
const filters = { pairId: "", kind: "", search: "", age: "" };
let lastFocusedId = null;

function variables() {
  const vars = {};
  if (filters.pairId) vars.pairId = filters.pairId;
  if (filters.kind) vars.kind = filters.kind;
  if (filters.search.trim()) vars.search = filters.search.trim();
  if (filters.age) {
    vars.detectedBefore = new Date(Date.now() - Number(filters.age) * 1000).toISOString();
  }
  return vars;
}

// The operator's selection outlives one rendering of the inbox: a live update or a return from
// a conflict can mount the inbox again while they are selecting, and that must not drop what
// they picked. Each load prunes it to the rows shown.
const selection = new Set();

export async function show(root, ctx) {
  ctx.title("Inbox");
  const state = { rows: [], selected: selection, endCursor: null, hasNext: false, busy: false };

  const countsLine = h("p", { class: "counts", id: "inbox-counts" });
  const kindChips = h("div", { class: "kind-chips", role: "group", "aria-label": "Open conflicts by kind" });
  const list = h("tbody");
  const table = h(
    "table",
    { class: "inbox-table", "aria-labelledby": "inbox-title", "aria-describedby": "inbox-counts" },
    h("thead", {}, h("tr", {},
      ctx.canAct ? h("th", { scope: "col", class: "col-check" }, h("span", { class: "visually-hidden" }, "Selected")) : null,
      h("th", { scope: "col" }, "Contact"),
      h("th", { scope: "col" }, "Kind"),
      h("th", { scope: "col" }, "What"),
      h("th", { scope: "col" }, "Side A"),
      h("th", { scope: "col" }, "Side B"),
      h("th", { scope: "col" }, "Pair"),
      h("th", { scope: "col" }, "Age"),
    )),
    list,
  );
  const empty = h("div", { class: "empty", hidden: true },
    h("p", { class: "empty-title" }, "Nothing to resolve"),
    h("p", { class: "muted" }, "No open conflicts match these filters."));
  const more = h("button", { type: "button", class: "btn", hidden: true, onclick: () => load(true) }, "Load more");

  const pairSelect = select([["", "All pairs"], ...ctx.pairs.map((p) => [p.id, p.name])], filters.pairId, { name: "pair" });
  const kindSelect = select([["", "All kinds"], ...Object.entries(KIND_LABELS)], filters.kind, { name: "kind" });
  const searchInput = h("input", { type: "search", name: "contact", value: filters.search, placeholder: "Name or email", autocomplete: "off" });
  const ageSelect = select(AGES, filters.age, { name: "age" });
  const filterForm = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter conflicts", onsubmit: (e) => e.preventDefault() },
    field("Pair", pairSelect),
    field("Kind", kindSelect),
    field("Contact", searchInput),
    field("Age", ageSelect),
    h("button", { type: "button", class: "btn btn-quiet", onclick: resetFilters }, "Reset"),
  );
  let searchTimer = null;
  pairSelect.addEventListener("change", () => { filters.pairId = pairSelect.value; reload(); });
  kindSelect.addEventListener("change", () => { filters.kind = kindSelect.value; reload(); });
  ageSelect.addEventListener("change", () => { filters.age = ageSelect.value; reload(); });
  searchInput.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { filters.search = searchInput.value; reload(); }, 250);
  });

  function resetFilters() {
    Object.assign(filters, { pairId: "", kind: "", search: "", age: "" });
    pairSelect.value = ""; kindSelect.value = ""; searchInput.value = ""; ageSelect.value = "";
    reload();
  }

  const selectedCount = h("span", { class: "bulk-count", "aria-live": "polite" }, "");
  const bulkButtons = CHOICES.map(({ choice, label, key }) =>
    h("button", {
      type: "button",
      class: `btn btn-choice btn-${choice.toLowerCase()}`,
      "aria-keyshortcuts": key,
      onclick: () => resolve(choice),
      dataset: { choice },
    }, label, " ", h("kbd", { "aria-hidden": "true" }, key.toUpperCase())));
  const bulkbar = ctx.canAct
    ? h("div", { class: "bulkbar", role: "toolbar", "aria-label": "Resolve selected or current conflict" },
      selectedCount, ...bulkButtons,
      h("button", { type: "button", class: "btn btn-quiet", onclick: clearSelection }, "Clear selection"))
    : null;

  const shortcuts = h("p", { class: "shortcuts", id: "inbox-shortcuts" },
    h("span", {}, h("kbd", {}, "J"), "/", h("kbd", {}, "K"), " or ", h("kbd", {}, "↓"), "/", h("kbd", {}, "↑"), " move"),
    h("span", {}, h("kbd", {}, "Enter"), " open"),
    ctx.canAct ? [
      h("span", {}, h("kbd", {}, "X"), " select"),
      h("span", {}, h("kbd", {}, "A"), " take A"),
      h("span", {}, h("kbd", {}, "B"), " take B"),
      h("span", {}, h("kbd", {}, "R"), " keep base"),
    ] : null,
  );

  render(root, h("section", { class: "inbox", "aria-labelledby": "inbox-title" },
    h("div", { class: "page-head" },
      h("h1", { id: "inbox-title" }, "Inbox"),
      countsLine),
    kindChips,
    filterForm,
    bulkbar,
    shortcuts,
    h("div", { class: "table-wrap" }, table),
    empty,
    h("div", { class: "more" }, more)));

  function rowLinks() {
    return [...list.querySelectorAll("a.row-open")];
  }

  function currentIndex() {
    const links = rowLinks();
    const active = document.activeElement?.closest?.("tr");
    const index = links.findIndex((link) => link.closest("tr") === active);
    return index;
  }

  function focusRow(index) {
    const links = rowLinks();
    if (!links.length) return;
    const clamped = Math.max(0, Math.min(links.length - 1, index));
    for (const [i, link] of links.entries()) link.tabIndex = i === clamped ? 0 : -1;
    links[clamped].focus();
    links[clamped].closest("tr").scrollIntoView({ block: "nearest" });
    lastFocusedId = links[clamped].dataset.id;
  }

  function updateSelection() {
    if (!bulkbar) return;
    const n = state.selected.size;
    selectedCount.textContent = n ? `${n} selected` : "Current row";
    for (const box of list.querySelectorAll("input[type=checkbox]")) {
      box.checked = state.selected.has(box.dataset.id);
      box.closest("tr").classList.toggle("is-selected", box.checked);
    }
  }

  function clearSelection() {
    state.selected.clear();
    updateSelection();
  }

  function row(conflict) {
    const name = conflict.link?.displayName || "(no contact)";
    const what = scopeLabel(conflict);
    const open = h("a", {
      class: "row-open", href: `#/conflict/${encodeURIComponent(conflict.id)}`, tabindex: "-1",
      dataset: { id: conflict.id },
    }, name);
    open.addEventListener("focus", () => { lastFocusedId = conflict.id; });
    const check = ctx.canAct
      ? h("td", { class: "col-check" }, h("input", {
        type: "checkbox",
        id: `sel-${conflict.id}`,
        "aria-label": `Select ${name}: ${what}`,
        dataset: { id: conflict.id },
        onchange: (e) => {
          if (e.target.checked) state.selected.add(conflict.id); else state.selected.delete(conflict.id);
          updateSelection();
        },
      }))
      : null;
    return h("tr", { dataset: { id: conflict.id } },
      check,
      h("th", { scope: "row", class: "col-contact" }, open),
      h("td", {}, h("span", { class: `kind kind-${conflict.kind.toLowerCase()}` }, KIND_LABELS[conflict.kind] || conflict.kind)),
      h("td", { class: "col-what" }, what),
      h("td", { class: "col-value" }, h("span", { class: "side-tag side-a", "aria-hidden": "true" }, "A"), distinct(conflict.aValue, conflict.bValue)),
      h("td", { class: "col-value" }, h("span", { class: "side-tag side-b", "aria-hidden": "true" }, "B"), distinct(conflict.bValue, conflict.aValue)),
      h("td", { class: "col-pair" }, conflict.pair?.name || ""),
      h("td", { class: "col-age" }, timeAgo(conflict.detectedAt)));
  }

  async function loadCounts() {
    const vars = variables();
    delete vars.kind;
    const data = await ctx.api.op("inbox", "InboxCounts", vars);
    const filtered = data.filtered.totalCount;
    const all = data.all.totalCount;
    countsLine.textContent = filtered === all
      ? `${all} open conflict${all === 1 ? "" : "s"}`
      : `${filtered} of ${all} open conflicts match`;
    render(kindChips, Object.entries(COUNT_KEYS).map(([kind, key]) => {
      const n = data[key].totalCount;
      return h("button", {
        type: "button",
        class: "chip chip-count",
        "aria-pressed": String(filters.kind === kind),
        disabled: n === 0 && filters.kind !== kind,
        onclick: () => {
          filters.kind = filters.kind === kind ? "" : kind;
          kindSelect.value = filters.kind;
          reload();
        },
      }, KIND_LABELS[kind], " ", h("span", { class: "chip-n" }, String(n)));
    }));
  }

  async function load(append = false) {
    const vars = { ...variables(), first: 50 };
    if (append && state.endCursor) vars.after = state.endCursor;
    const data = await ctx.api.op("inbox", "Inbox", vars);
    const nodes = data.conflicts.edges.map((edge) => edge.node);
    state.rows = append ? [...state.rows, ...nodes] : nodes;
    state.endCursor = data.conflicts.pageInfo.endCursor;
    state.hasNext = data.conflicts.pageInfo.hasNextPage;
    const keep = new Set(state.rows.map((c) => c.id));
    for (const id of [...state.selected]) if (!keep.has(id)) state.selected.delete(id);
    const hadFocus = list.contains(document.activeElement);
    render(list, state.rows.map(row));
    empty.hidden = state.rows.length > 0;
    table.hidden = state.rows.length === 0;
    more.hidden = !state.hasNext;
    updateSelection();
    const links = rowLinks();
    const index = Math.max(0, links.findIndex((l) => l.dataset.id === lastFocusedId));
    if (links.length) {
      links[index].tabIndex = 0;
      if (hadFocus) focusRow(index);
    }
  }

  async function reload() {
    try {
      await Promise.all([load(false), loadCounts()]);
    } catch (error) {
      announce(`The inbox could not load: ${error.message}`, { tone: "error" });
    }
  }

  async function resolve(choice) {
    if (!ctx.canAct || state.busy) return;
    const index = currentIndex();
    let ids = [...state.selected];
    if (!ids.length) {
      const links = rowLinks();
      const target = links[index >= 0 ? index : 0];
      if (!target) return;
      ids = [target.dataset.id];
    }
    if (choice === "BASE") {
      const byId = new Map(state.rows.map((c) => [c.id, c]));
      const without = ids.map((id) => byId.get(id)).filter((c) => c && noBase(c));
      if (without.length) {
        const names = without.map((c) => c.link?.displayName || c.scope).join(", ");
        announce(`Keep base does not apply to ${names}: there is no agreed base. Nothing was resolved.`, { tone: "error" });
        return;
      }
    }
    state.busy = true;
    try {
      let resolved;
      if (ids.length === 1 && !state.selected.size) {
        const data = await ctx.api.op("resolve", "ConflictResolve", { id: ids[0], choice });
        Api.check(data.conflictResolve);
        resolved = 1;
      } else {
        const data = await ctx.api.op("resolve", "ConflictsResolve", { ids, choice });
        Api.check(data.conflictsResolve);
        resolved = data.conflictsResolve.conflicts.length;
      }
      const label = CHOICES.find((c) => c.choice === choice).spoken;
      announce(`${resolved} conflict${resolved === 1 ? "" : "s"} resolved: ${label}`);
      state.selected.clear();
      // Keep the position: the next conflict moves up into the resolved one's place.
      const links = rowLinks();
      const gone = new Set(ids);
      const next = links.slice(Math.max(index, 0)).find((l) => !gone.has(l.dataset.id))
        || links.slice(0, Math.max(index, 0)).reverse().find((l) => !gone.has(l.dataset.id));
      lastFocusedId = next?.dataset.id || null;
      await load(false);
      await loadCounts();
      ctx.refreshCount();
      focusRow(rowLinks().findIndex((l) => l.dataset.id === lastFocusedId));
    } catch (error) {
      announce(`Not resolved: ${error.message}`, { tone: "error" });
    } finally {
      state.busy = false;
    }
  }

  function onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey || isTyping(event)) return;
    const index = currentIndex();
    switch (event.key) {
      case "j": case "ArrowDown":
        event.preventDefault();
        focusRow(index < 0 ? 0 : index + 1);
        break;
      case "k": case "ArrowUp":
        event.preventDefault();
        focusRow(index < 0 ? 0 : index - 1);
        break;
      case "Enter":
        if (index < 0 && rowLinks().length && !event.target.closest?.("button, a")) {
          event.preventDefault();
          rowLinks()[0].click();
        }
        break;
      case "x": {
        if (!ctx.canAct) return;
        const link = rowLinks()[index < 0 ? 0 : index];
        if (!link) return;
        event.preventDefault();
        const id = link.dataset.id;
        if (state.selected.has(id)) state.selected.delete(id); else state.selected.add(id);
        updateSelection();
        focusRow(index < 0 ? 0 : index);
        announce(`${state.selected.has(id) ? "Selected" : "Unselected"} ${link.textContent}. ${state.selected.size} selected.`);
        break;
      }
      default: {
        const shortcut = CHOICES.find((c) => c.key === event.key);
        if (shortcut && ctx.canAct) {
          event.preventDefault();
          resolve(shortcut.choice);
        }
      }
    }
  }

  await reload();
  if (rowLinks().length) focusRow(rowLinks().findIndex((l) => l.dataset.id === lastFocusedId));

  let pending = null;
  return {
    onKey,
    onEvent(event) {
      if (event.type === "runFinished") return;
      // Many events arrive together during a run: reload once.
      clearTimeout(pending);
      pending = setTimeout(() => { if (!state.busy) reload(); }, 300);
    },
    dispose() {
      clearTimeout(pending);
      clearTimeout(searchTimer);
    },
  };
}
