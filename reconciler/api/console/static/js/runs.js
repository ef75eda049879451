// Runs: history with counts and requests spent against each side's budget, a chart of
// conflicts opened and closed per run (inline SVG), "preview run" (a dry run's plan with the
// reason of each action) and "apply plan", and "run now".

import { Api } from "./api.js";
import { announce, field, h, render, select, svg, timeAgo, when } from "./dom.js";

let chosenPair = "";

function countsText(counts) {
  if (!counts.length) return "no changes";
  return counts.map((c) => `${c.count} ${c.kind.replaceAll("_", " ")}`).join(", ");
}

/** Bars of conflicts opened (up) and closed per run, oldest on the left. */
export function chart(runs) {
  const points = runs.filter((r) => !r.dryRun).slice().reverse();
  const width = 640;
  const height = 180;
  const pad = { left: 36, right: 12, top: 14, bottom: 28 };
  const max = Math.max(1, ...points.map((r) => Math.max(r.conflictsOpened, r.conflictsClosed ?? 0)));
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const slot = innerW / Math.max(points.length, 1);
  const bar = Math.max(2, Math.min(14, slot / 2 - 2));
  const y = (v) => pad.top + innerH - (v / max) * innerH;
  const children = [];
  for (const tick of [0, Math.ceil(max / 2), max]) {
    children.push(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick), class: "grid" }));
    children.push(svg("text", { x: pad.left - 6, y: y(tick) + 4, class: "axis", "text-anchor": "end" }, String(tick)));
  }
  points.forEach((run, i) => {
    const x = pad.left + i * slot + slot / 2;
    const opened = run.conflictsOpened;
    const closed = run.conflictsClosed ?? 0;
    children.push(svg("rect", { x: x - bar - 1, y: y(opened), width: bar, height: y(0) - y(opened), class: "bar-opened" },
      svg("title", {}, `${when(run.startedAt)}: ${opened} opened`)));
    children.push(svg("rect", { x: x + 1, y: y(closed), width: bar, height: y(0) - y(closed), class: "bar-closed" },
      svg("title", {}, `${when(run.startedAt)}: ${closed} closed`)));
  });
  if (points.length) {
    const first = points[0];
    const last = points[points.length - 1];
    children.push(svg("text", { x: pad.left, y: height - 8, class: "axis" }, when(first.startedAt)));
    if (points.length > 1) {
      children.push(svg("text", { x: width - pad.right, y: height - 8, class: "axis", "text-anchor": "end" }, when(last.startedAt)));
    }
  }
  const opened = points.reduce((s, r) => s + r.conflictsOpened, 0);
  const closed = points.reduce((s, r) => s + (r.conflictsClosed ?? 0), 0);
  const summary = `Conflicts over the last ${points.length} runs: ${opened} opened, ${closed} closed.`;
  return h("figure", { class: "chart" },
    svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": summary, class: "chart-svg" }, ...children),
    h("figcaption", {},
      h("span", { class: "legend-swatch swatch-opened", "aria-hidden": "true" }), "Opened ",
      h("span", { class: "legend-swatch swatch-closed", "aria-hidden": "true" }), "Closed ",
      h("span", { class: "muted" }, `· ${summary}`)));
}

function budgetCards(pair) {
  if (!pair) return null;
  return h("div", { class: "budget" }, pair.budget.map((b) => {
    const used = b.dailyLimit && b.remainingDaily !== null ? b.dailyLimit - b.remainingDaily : null;
    const share = b.dailyLimit && used !== null ? Math.min(100, Math.round((used / b.dailyLimit) * 100)) : 0;
    const fill = h("span");
    fill.style.width = `${share}%`; // CSSOM, not a style attribute: the CSP allows no inline style
    return h("div", { class: "budget-card" },
      h("p", { class: "budget-title" }, `Side ${b.side} requests`),
      h("p", { class: "budget-value" }, used === null ? "—" : used.toLocaleString(),
        h("span", { class: "muted small" }, b.dailyLimit ? ` of ${b.dailyLimit.toLocaleString()} today` : " (no daily limit)")),
      h("div", { class: "meter", role: "meter", "aria-label": `Side ${b.side} daily budget used`, "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": String(share) },
        fill),
      h("p", { class: "muted small" }, `Last run: ${b.requestsLastRun ?? "—"} requests`));
  }));
}

function planView(ctx, plan, onApplied) {
  const actions = plan.actions.nodes;
  const error = h("div", { class: "form-error", role: "alert" });
  const apply = ctx.canAct && plan.status === "PENDING"
    ? h("button", {
      type: "button",
      class: "btn btn-primary",
      onclick: async (event) => {
        event.target.disabled = true;
        error.textContent = "";
        const started = ctx.runStarting();
        let runId = null;
        try {
          const data = await ctx.api.op("runs", "PlanApply", { planId: plan.id });
          const payload = Api.check(data.planApply);
          runId = payload.run?.id ?? null;
          announce(`Plan applied: run ${payload.run?.status ?? "finished"}.`);
          onApplied();
        } catch (err) {
          error.textContent = `Not applied: ${err.message}`;
          event.target.disabled = false;
        } finally {
          started(runId);
        }
      },
    }, `Apply plan (${plan.actions.totalCount} action${plan.actions.totalCount === 1 ? "" : "s"})`)
    : null;
  return h("section", { class: "card plan", "aria-labelledby": "plan-title" },
    h("div", { class: "page-head" },
      h("h2", { id: "plan-title" }, "Preview: what a run would do"),
      h("span", { class: `status status-${plan.status.toLowerCase()}` }, plan.status.toLowerCase())),
    h("p", {}, countsText(plan.counts)),
    actions.length
      ? h("div", { class: "table-wrap" }, h("table", { class: "data-table", "aria-labelledby": "plan-title" },
        h("thead", {}, h("tr", {}, ["#", "Action", "On side", "Contact", "Why"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, actions.map((a) => h("tr", {},
          h("td", {}, String(a.seq)),
          h("th", { scope: "row" }, a.kind.replaceAll("_", " ")),
          h("td", {}, a.side || "—"),
          h("td", {}, a.link ? h("a", { href: `#/contact/${encodeURIComponent(a.link.id)}` }, a.link.displayName) : (a.contactId || "—")),
          h("td", {}, a.reason ? [h("code", {}, a.reason.rule), a.reason.policy ? ` · ${a.reason.policy}` : "", a.reason.detail ? h("div", { class: "muted small" }, a.reason.detail) : null] : "—"))))))
      : h("p", { class: "muted" }, "Nothing to do: both sides agree."),
    plan.actions.pageInfo.hasNextPage ? h("p", { class: "muted small" }, `Showing the first ${actions.length} of ${plan.actions.totalCount} actions.`) : null,
    error,
    apply ? h("div", { class: "actions" }, apply) : null);
}

export async function show(root, ctx) {
  ctx.title("Runs");
  if (!chosenPair || !ctx.pairs.some((p) => p.id === chosenPair)) chosenPair = ctx.pairs[0]?.id || "";
  const pairSelect = select(ctx.pairs.map((p) => [p.id, p.name]), chosenPair, { name: "pair" });
  const body = h("div", { class: "runs-body" });
  const planSlot = h("div", { "aria-live": "polite" });
  const error = h("div", { class: "form-error", role: "alert" });

  const preview = h("button", { type: "button", class: "btn", onclick: () => start(true) }, "Preview run");
  const runNow = h("button", { type: "button", class: "btn btn-primary", onclick: () => start(false) }, "Run now");

  async function start(dryRun) {
    const started = ctx.runStarting();
    let runId = null;
    error.textContent = "";
    preview.disabled = true;
    runNow.disabled = true;
    try {
      const data = await ctx.api.op("runs", "SyncRunStart", { pairId: chosenPair, dryRun });
      const payload = Api.check(data.syncRunStart);
      runId = payload.run?.id ?? null;
      if (dryRun && payload.plan) {
        await showPlan(payload.plan.id);
        announce(`Preview ready: ${payload.plan.actionCount} action(s).`);
      } else {
        render(planSlot);
        announce(`Run ${payload.run?.status ?? "finished"}: ${countsText(payload.run?.counts || [])}.`);
      }
      await load();
      ctx.refreshCount();
    } catch (err) {
      error.textContent = `${dryRun ? "Preview" : "Run"} failed: ${err.message}`;
    } finally {
      started(runId);
      preview.disabled = false;
      runNow.disabled = false;
    }
  }

  async function showPlan(planId) {
    const data = await ctx.api.op("runs", "Plan", { id: planId, first: 100 });
    if (!data.plan) return;
    render(planSlot, planView(ctx, data.plan, async () => {
      render(planSlot);
      await load();
      ctx.refreshCount();
    }));
  }

  async function load() {
    const [runsData, pairsData] = await Promise.all([
      ctx.api.op("runs", "Runs", { pairId: chosenPair, first: 50 }),
      ctx.api.op("pairs", "Pairs", { first: 100 }),
    ]);
    const pair = pairsData.pairs.nodes.find((p) => p.id === chosenPair);
    const runs = runsData.runs.nodes;
    const rows = runs.map((run) => {
      const a = run.requests.find((r) => r.side === "A")?.total ?? 0;
      const b = run.requests.find((r) => r.side === "B")?.total ?? 0;
      return h("tr", {},
        h("th", { scope: "row" }, timeAgo(run.startedAt)),
        h("td", {}, run.trigger, run.dryRun ? h("span", { class: "pill" }, "preview") : null),
        h("td", {}, h("span", { class: `status status-${run.status.toLowerCase()}` }, run.status.replaceAll("_", " "))),
        h("td", { class: "num" }, run.durationMs === null ? "—" : `${(run.durationMs / 1000).toFixed(1)} s`),
        h("td", {}, countsText(run.counts)),
        h("td", { class: "num" }, String(run.conflictsOpened)),
        h("td", { class: "num" }, run.conflictsClosed === null ? "—" : String(run.conflictsClosed)),
        h("td", { class: "num" }, `${run.requestsSpent}`, h("span", { class: "muted small" }, ` (A ${a} · B ${b})`)),
        h("td", {}, run.plan && run.plan.status === "PENDING"
          ? h("button", { type: "button", class: "btn btn-small", onclick: () => showPlan(run.plan.id) }, "Show plan")
          : run.errors.length ? h("span", { class: "muted small" }, run.errors[0]) : ""));
    });
    render(body,
      budgetCards(pair),
      h("section", { "aria-labelledby": "chart-title", class: "card" },
        h("h2", { id: "chart-title" }, "Conflicts opened and closed"),
        runs.length ? chart(runs) : h("p", { class: "muted" }, "No runs yet.")),
      h("section", { "aria-labelledby": "history-title" },
        h("h2", { id: "history-title" }, `History (${runsData.runs.totalCount} runs)`),
        h("div", { class: "table-wrap" }, h("table", { class: "data-table", "aria-labelledby": "history-title" },
          h("thead", {}, h("tr", {}, ["Started", "Trigger", "Status", "Duration", "Actions", "Opened", "Closed", "Requests"].map((t) => h("th", { scope: "col" }, t)),
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Plan")))),
          h("tbody", {}, rows)))));
  }

  pairSelect.addEventListener("change", () => {
    chosenPair = pairSelect.value;
    render(planSlot);
    load().catch((e) => announce(e.message, { tone: "error" }));
  });

  render(root, h("section", { "aria-labelledby": "runs-title" },
    h("div", { class: "page-head" }, h("h1", { id: "runs-title" }, "Runs")),
    h("div", { class: "toolbar" },
      field("Pair", pairSelect),
      ctx.canAct ? h("div", { class: "actions" }, preview, runNow) : null),
    error,
    planSlot,
    body));
  if (chosenPair) await load();
  else render(body, h("p", { class: "muted" }, "No pairs are configured."));

  let pending = null;
  return {
    onEvent(event) {
      if (event.type !== "runFinished") return;
      clearTimeout(pending);
      pending = setTimeout(() => load().catch(() => {}), 300);
    },
    dispose: () => clearTimeout(pending),
  };
}
