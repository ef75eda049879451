// Linked contacts: find one by name, email or tag, see which have open conflicts.

import { announce, field, h, render, select } from "./dom.js";

const filters = { pairId: "", search: "", tag: "", conflicts: "" };

export async function show(root, ctx) {
  ctx.title("Contacts");
  const list = h("tbody");
  const total = h("p", { class: "counts", id: "contacts-count" });
  const more = h("button", { type: "button", class: "btn", hidden: true, onclick: () => load(true) }, "Load more");
  let endCursor = null;

  const pairSelect = select([["", "All pairs"], ...ctx.pairs.map((p) => [p.id, p.name])], filters.pairId, { name: "pair" });
  const searchInput = h("input", { type: "search", name: "contact", value: filters.search, placeholder: "Name or email", autocomplete: "off" });
  const tagInput = h("input", { type: "text", name: "tag", value: filters.tag, autocomplete: "off" });
  const conflictSelect = select([["", "Any"], ["yes", "With open conflicts"], ["no", "Without open conflicts"]], filters.conflicts, { name: "conflicts" });
  let timer = null;
  const changed = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      Object.assign(filters, {
        pairId: pairSelect.value, search: searchInput.value, tag: tagInput.value, conflicts: conflictSelect.value,
      });
      load(false);
    }, 250);
  };
  for (const control of [pairSelect, searchInput, tagInput, conflictSelect]) {
    control.addEventListener(control.tagName === "SELECT" ? "change" : "input", changed);
  }

  render(root, h("section", { "aria-labelledby": "contacts-title" },
    h("div", { class: "page-head" }, h("h1", { id: "contacts-title" }, "Contacts"), total),
    h("form", { class: "filters", role: "search", "aria-label": "Find contacts", onsubmit: (e) => e.preventDefault() },
      field("Pair", pairSelect), field("Name or email", searchInput), field("Tag", tagInput),
      field("Conflicts", conflictSelect)),
    h("div", { class: "table-wrap" }, h("table", { class: "data-table", "aria-labelledby": "contacts-title" },
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Contact"), h("th", { scope: "col" }, "Side A id"),
        h("th", { scope: "col" }, "Side B id"), h("th", { scope: "col" }, "Open conflicts"),
        h("th", { scope: "col" }, "Sync"))),
      list)),
    h("div", { class: "more" }, more)));

  async function load(append) {
    const vars = { first: 50 };
    if (filters.pairId) vars.pairId = filters.pairId;
    if (filters.search.trim()) vars.search = filters.search.trim();
    if (filters.tag.trim()) vars.tag = filters.tag.trim();
    if (filters.conflicts) vars.hasOpenConflicts = filters.conflicts === "yes";
    if (append && endCursor) vars.after = endCursor;
    try {
      const data = await ctx.api.op("contact_detail", "Contacts", vars);
      const links = data.contactLinks;
      endCursor = links.pageInfo.endCursor;
      more.hidden = !links.pageInfo.hasNextPage;
      total.textContent = `${links.totalCount} linked contact${links.totalCount === 1 ? "" : "s"}`;
      const rows = links.nodes.map((link) => h("tr", {},
        h("th", { scope: "row" }, h("a", { href: `#/contact/${encodeURIComponent(link.id)}` }, link.displayName)),
        h("td", { class: "mono small" }, link.aContactId),
        h("td", { class: "mono small" }, link.bContactId),
        h("td", {}, link.openConflicts.length ? h("span", { class: "pill pill-warn" }, String(link.openConflicts.length)) : "0"),
        h("td", {}, link.excluded ? h("span", { class: "pill" }, "excluded") : "synced")));
      if (append) list.append(...rows); else render(list, rows);
    } catch (error) {
      announce(`Contacts could not load: ${error.message}`, { tone: "error" });
    }
  }

  await load(false);
  return { dispose: () => clearTimeout(timer) };
}
