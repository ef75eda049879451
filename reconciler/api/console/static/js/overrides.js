// Overrides: the list (active, optionally deleted too), creating one (pin a side or exclude,
// for a pair, contact, tag, note or field, with an optional expiry) and deleting one.

import { Api } from "./api.js";
import { FIELD_LABELS, announce, field, h, nextId, render, select, when } from "./dom.js";

const SCOPES = [
  ["CONTACT", "A contact"], ["FIELD", "A field of a contact"], ["NOTE", "A note of a contact"],
  ["TAG", "A tag"], ["PAIR", "The whole pair"],
];
const NEEDS = {
  PAIR: [], CONTACT: ["contact"], FIELD: ["contact", "field"], NOTE: ["contact", "note"],
  TAG: ["tag", "contact?"],
};

function describe(o) {
  const what = o.exclude ? "Exclude from sync" : `Pin side ${o.pin}`;
  const target = [
    o.link ? o.link.displayName : null,
    o.fieldName ? `field ${FIELD_LABELS[o.fieldName] || o.fieldName}` : null,
    o.tagKey ? `tag “${o.tagKey}”` : null,
    o.noteLinkId ? `note ${o.noteLinkId}` : null,
  ].filter(Boolean).join(" · ");
  return { what, target: target || "whole pair" };
}

export async function show(root, ctx, _arg, query) {
  ctx.title("Overrides");
  const presetContact = query.get("contact");
  const includeDeleted = h("input", { type: "checkbox", id: "show-deleted", name: "show-deleted" });
  const list = h("tbody");
  const total = h("p", { class: "counts", id: "overrides-count" });

  async function load() {
    try {
      const data = await ctx.api.op("overrides", "Overrides", { includeDeleted: includeDeleted.checked, first: 100 });
      const conn = data.overrides;
      total.textContent = `${conn.totalCount} override${conn.totalCount === 1 ? "" : "s"}`;
      render(list, conn.nodes.map((o) => {
        const { what, target } = describe(o);
        return h("tr", { class: o.active ? "" : "is-inactive" },
          h("th", { scope: "row" }, what),
          h("td", {}, h("span", { class: "pill" }, o.scope.toLowerCase()), " ",
            o.link ? h("a", { href: `#/contact/${encodeURIComponent(o.link.id)}` }, target) : target),
          h("td", {}, o.expiresAt ? when(o.expiresAt) : "never"),
          h("td", {}, o.createdBy, h("br"), h("span", { class: "muted small" }, when(o.createdAt))),
          h("td", {}, o.deletedAt ? `deleted ${when(o.deletedAt)}` : o.active ? "active" : "expired"),
          ctx.canAct ? h("td", {}, o.deletedAt ? null : h("button", {
            type: "button",
            class: "btn btn-danger btn-small",
            "aria-label": `Delete override: ${what}, ${target}`,
            onclick: () => remove(o),
          }, "Delete")) : null);
      }));
    } catch (error) {
      announce(`Overrides could not load: ${error.message}`, { tone: "error" });
    }
  }

  async function remove(o) {
    try {
      const data = await ctx.api.op("overrides", "OverrideDelete", { id: o.id });
      Api.check(data.overrideDelete);
      announce("Override deleted.");
      await load();
    } catch (error) {
      announce(`Not deleted: ${error.message}`, { tone: "error" });
    }
  }

  includeDeleted.addEventListener("change", load);

  const table = h("div", { class: "table-wrap" }, h("table", { class: "data-table", "aria-labelledby": "overrides-title" },
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Decision"), h("th", { scope: "col" }, "Applies to"),
      h("th", { scope: "col" }, "Expires"), h("th", { scope: "col" }, "Created by"),
      h("th", { scope: "col" }, "State"),
      ctx.canAct ? h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")) : null)),
    list));

  render(root, h("section", { "aria-labelledby": "overrides-title" },
    h("div", { class: "page-head" }, h("h1", { id: "overrides-title" }, "Overrides"), total),
    h("p", { class: "muted" }, "An override is a person's decision that beats the pair's policy until it expires or is deleted."),
    ctx.canAct ? createForm(ctx, presetContact, load) : null,
    h("div", { class: "checkbox-line" }, includeDeleted, h("label", { for: "show-deleted" }, "Show deleted overrides")),
    table));
  await load();
  return {};
}

function createForm(ctx, presetContact, reload) {
  const error = h("div", { class: "form-error", role: "alert" });
  const pair = select(ctx.pairs.map((p) => [p.id, p.name]), ctx.pairs[0]?.id, { name: "pair", required: true });
  const scope = select(SCOPES, "CONTACT", { name: "scope" });
  const actionName = nextId("action");
  const radio = (value, label, checked) => {
    const input = h("input", { type: "radio", name: actionName, value, checked, id: nextId("r") });
    return h("span", { class: "radio" }, input, h("label", { for: input.id }, label));
  };
  const action = h("fieldset", { class: "radios" }, h("legend", {}, "Decision"),
    radio("A", "Pin side A", true), radio("B", "Pin side B", false), radio("EXCLUDE", "Exclude from sync", false));
  const contactSearch = h("input", { type: "search", name: "contact-search", autocomplete: "off", placeholder: "Name or email" });
  const contact = select([["", "Choose a contact"]], "", { name: "contact" });
  const fieldName = select(Object.entries(FIELD_LABELS), "email", { name: "field" });
  const tag = h("input", { type: "text", name: "tag", autocomplete: "off" });
  const note = select([["", "Choose a contact first"]], "", { name: "note" });
  const expires = h("input", { type: "datetime-local", name: "expires" });

  const groups = {
    contact: h("div", { class: "field-group" }, field("Find contact", contactSearch), field("Contact", contact)),
    field: field("Field", fieldName),
    tag: field("Tag name", tag),
    note: field("Note", note),
  };

  function sync() {
    const needs = NEEDS[scope.value];
    for (const [name, el] of Object.entries(groups)) {
      el.hidden = !(needs.includes(name) || needs.includes(`${name}?`));
    }
  }

  async function findContacts() {
    const vars = { pairId: pair.value, first: 20 };
    if (contactSearch.value.trim()) vars.search = contactSearch.value.trim();
    const data = await ctx.api.op("contact_detail", "Contacts", vars);
    const options = data.contactLinks.nodes.map((l) => [l.id, l.displayName]);
    const keep = contact.value;
    render(contact, h("option", { value: "" }, options.length ? "Choose a contact" : "No contact matches"),
      options.map(([v, label]) => h("option", { value: v, selected: v === keep || v === presetContact }, label)));
    await loadNotes();
  }

  async function loadNotes() {
    if (!contact.value) {
      render(note, h("option", { value: "" }, "Choose a contact first"));
      return;
    }
    const data = await ctx.api.op("contact_detail", "ContactDetail", { id: contact.value });
    const notes = data.node?.base?.notes || [];
    render(note, h("option", { value: "" }, notes.length ? "Choose a note" : "This contact has no linked notes"),
      notes.map((n) => h("option", { value: n.id }, n.body.length > 60 ? `${n.body.slice(0, 59)}…` : n.body)));
  }

  let timer = null;
  contactSearch.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => findContacts().catch((e) => { error.textContent = e.message; }), 250);
  });
  pair.addEventListener("change", () => findContacts().catch((e) => { error.textContent = e.message; }));
  contact.addEventListener("change", () => loadNotes().catch((e) => { error.textContent = e.message; }));
  scope.addEventListener("change", sync);

  const form = h("form", { class: "card create-override", "aria-labelledby": "create-override-title" },
    h("h2", { id: "create-override-title" }, "New override"),
    h("div", { class: "form-grid" },
      field("Pair", pair), field("Scope", scope), action,
      groups.contact, groups.field, groups.tag, groups.note,
      field("Expires", expires, "Optional; your local time. Empty: until deleted.")),
    error,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "btn btn-primary" }, "Create override")));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const choice = form.querySelector(`input[name="${actionName}"]:checked`).value;
    const needs = NEEDS[scope.value];
    const input = { pairId: pair.value, scope: scope.value, exclude: choice === "EXCLUDE" };
    if (choice !== "EXCLUDE") input.pin = choice;
    if ((needs.includes("contact") || needs.includes("contact?")) && contact.value) input.contactId = contact.value;
    if (needs.includes("field")) input.fieldName = fieldName.value;
    if (needs.includes("tag")) input.tagName = tag.value;
    if (needs.includes("note")) input.noteLinkId = note.value || null;
    if (expires.value) input.expiresAt = new Date(expires.value).toISOString();
    try {
      const data = await ctx.api.op("overrides", "OverrideCreate", { input });
      Api.check(data.overrideCreate);
      announce("Override created.");
      await reload();
    } catch (err) {
      error.textContent = `Not created: ${err.message}`;
    }
  });

  sync();
  findContacts().catch((e) => { error.textContent = e.message; });
  return form;
}
