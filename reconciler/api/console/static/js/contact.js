// One linked contact: both sides and the base (fields, tags, notes), its conflicts, its
// overrides and its history (audit events about the link).

import { Api } from "./api.js";
import { tagChips } from "./conflict.js";
import { FIELD_LABELS, KIND_LABELS, announce, h, render, scopeLabel, timeAgo, when } from "./dom.js";

const FIELDS = ["first_name", "last_name", "email", "phone"];
const CAMEL = { first_name: "firstName", last_name: "lastName", email: "email", phone: "phone" };

/** The raw id inside a global id (audit events name their subject by raw id). */
function rawId(globalId) {
  try {
    return atob(globalId).split(":").slice(1).join(":");
  } catch {
    return "";
  }
}

/** "kind: update_fields · side: b": the plain values of an audit event's detail. */
function summarise(detail) {
  if (!detail || typeof detail !== "object") return "";
  return Object.entries(detail)
    .filter(([, v]) => ["string", "number", "boolean"].includes(typeof v))
    .slice(0, 4)
    .map(([k, v]) => `${k.replaceAll("_", " ")}: ${v}`)
    .join(" · ");
}

function sideCard(title, side, base, which) {
  if (!side) {
    return h("section", { class: "side-col", "aria-label": title },
      h("header", { class: "side-col-head" }, h("h2", {}, title)), h("p", { class: "value-missing" }, "(nothing known)"));
  }
  const rows = FIELDS.map((name) => {
    const value = side[CAMEL[name]];
    const differs = which !== "base" && base && (base[CAMEL[name]] ?? null) !== (value ?? null);
    return [
      h("dt", {}, FIELD_LABELS[name]),
      h("dd", { class: differs ? "differs" : "" }, value ?? h("span", { class: "muted" }, "—"),
        differs ? h("span", { class: "visually-hidden" }, " (differs from base)") : null),
    ];
  });
  const notes = side.notes;
  return h("section", { class: `side-col side-col-${which}`, "aria-labelledby": `contact-col-${which}` },
    h("header", { class: "side-col-head" },
      h("h2", { id: `contact-col-${which}` }, title),
      side.contactId ? h("span", { class: "muted small mono" }, side.contactId) : null),
    h("div", { class: "side-col-body" },
      side.parkedError ? h("p", { class: "notice notice-error small" }, `Parked: ${side.parkedError}`) : null,
      side.missingSince ? h("p", { class: "notice small" }, `Missing since ${when(side.missingSince)}`) : null,
      h("dl", { class: "fields" }, rows),
      h("h3", { class: "small-title" }, "Tags"),
      // Against the base when there is one; a contact never agreed on shows its tags plain.
      tagChips(side.tags || [], which !== "base" && base ? base.tags : side.tags, { referenceIsBase: true }),
      h("h3", { class: "small-title" }, `Notes${notes ? ` (${notes.length})` : ""}`),
      notes === null || notes === undefined
        ? h("p", { class: "value-missing" }, "(notes not read yet)")
        : notes.length
          ? h("ul", { class: "notes", role: "list" }, notes.map((note) => h("li", { class: "text-value small" }, note.body)))
          : h("p", { class: "value-missing" }, "(no notes)")));
}

export async function show(root, ctx, id) {
  const [detail, history] = await Promise.all([
    ctx.api.op("contact_detail", "ContactDetail", { id }),
    ctx.api.op("contact_detail", "ContactHistory", { id, subject: rawId(id), first: 50 }),
  ]);
  const link = detail.node;
  if (!link) {
    render(root, h("div", { class: "notice notice-error", role: "alert" }, "No such contact."));
    return {};
  }
  ctx.title(link.displayName);

  const overrides = link.overrides.length
    ? h("ul", { class: "plain-list", role: "list" }, link.overrides.map((o) => h("li", {},
      h("span", { class: "pill" }, o.scope.toLowerCase()), " ",
      o.exclude ? "excluded from sync" : `pin side ${o.pin}`,
      o.fieldName ? ` · field ${o.fieldName}` : "", o.tagKey ? ` · tag ${o.tagKey}` : "",
      o.noteLinkId ? ` · note ${o.noteLinkId}` : "",
      o.expiresAt ? ` · until ${when(o.expiresAt)}` : "",
      o.active ? "" : " (inactive)")))
    : h("p", { class: "muted" }, "No overrides.");

  const conflictRows = history.conflicts.nodes.map((c) => h("tr", {},
    h("th", { scope: "row" }, h("a", { href: `#/conflict/${encodeURIComponent(c.id)}` }, scopeLabel(c))),
    h("td", {}, KIND_LABELS[c.kind] || c.kind),
    h("td", {}, h("span", { class: `status status-${c.status.toLowerCase()}` }, c.status.toLowerCase())),
    h("td", {}, timeAgo(c.detectedAt)),
    h("td", {}, c.resolution ? `${c.resolution.choice}${c.resolvedBy ? ` by ${c.resolvedBy}` : ""}` : "—")));

  const events = history.auditEvents.nodes.map((e) => h("li", {},
    h("time", { datetime: e.at }, when(e.at)), " ",
    h("code", {}, e.kind), " ", h("span", { class: "muted" }, e.actor),
    h("span", { class: "detail" }, summarise(e.detail))));

  const excludeButton = ctx.canAct
    ? h("button", {
      type: "button",
      class: "btn",
      onclick: async () => {
        try {
          const op = link.excluded ? "ContactInclude" : "ContactExclude";
          const data = await ctx.api.op("contact_detail", op, { id: link.id });
          Api.check(data[link.excluded ? "contactInclude" : "contactExclude"]);
          announce(link.excluded ? "Contact included in sync again." : "Contact excluded from sync.");
          ctx.reload();
        } catch (error) {
          announce(`Not changed: ${error.message}`, { tone: "error" });
        }
      },
    }, link.excluded ? "Include in sync" : "Exclude from sync")
    : null;

  render(root, h("article", { class: "contact", "aria-labelledby": "contact-title" },
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
      h("a", { href: "#/contacts" }, "Contacts"), h("span", { "aria-hidden": "true" }, " / "),
      h("span", { "aria-current": "page" }, link.displayName)),
    h("div", { class: "page-head" },
      h("h1", { id: "contact-title" }, link.displayName),
      h("p", { class: "meta" },
        h("span", {}, "Pair ", h("strong", {}, link.pair?.name || "—")),
        h("span", {}, `Linked ${when(link.createdAt)}`),
        link.excluded ? h("span", { class: "pill pill-warn" }, "excluded from sync") : null,
        excludeButton)),
    h("div", { class: "sides" },
      sideCard("Base", link.base, null, "base"),
      sideCard("Side A", link.a, link.base, "a"),
      sideCard("Side B", link.b, link.base, "b")),
    h("div", { class: "two-col" },
      h("section", { "aria-labelledby": "contact-conflicts" },
        h("h2", { id: "contact-conflicts" }, `Conflicts (${history.conflicts.totalCount})`),
        conflictRows.length
          ? h("div", { class: "table-wrap" }, h("table", { class: "data-table", "aria-labelledby": "contact-conflicts" },
            h("thead", {}, h("tr", {}, ["What", "Kind", "Status", "Detected", "Resolution"].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, conflictRows)))
          : h("p", { class: "muted" }, "No conflicts.")),
      h("section", { "aria-labelledby": "contact-overrides" },
        h("h2", { id: "contact-overrides" }, "Overrides"),
        overrides,
        h("p", {}, h("a", { href: `#/overrides?contact=${encodeURIComponent(link.id)}` }, "Manage overrides")))),
    h("section", { "aria-labelledby": "contact-history" },
      h("h2", { id: "contact-history" }, `History (${history.auditEvents.totalCount})`),
      events.length ? h("ol", { class: "history", role: "list" }, events) : h("p", { class: "muted" }, "Nothing recorded yet."))));

  return {
    onEvent(event) {
      if (event.type === "runFinished") ctx.reload();
    },
  };
}
