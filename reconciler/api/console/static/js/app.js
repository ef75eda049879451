// The console's shell: sign-in with an API key (sessionStorage only, this tab), the role from
// the API, hash routes to the views, and the live subscriptions that keep them current.

import { Api, ApiError, Live } from "./api.js";
import { announce, field, h, render } from "./dom.js";

const KEY_STORAGE = "reconciler.apiKey";
const ROUTES = {
  inbox: () => import("./inbox.js"),
  conflict: () => import("./conflict.js"),
  contacts: () => import("./contacts.js"),
  contact: () => import("./contact.js"),
  overrides: () => import("./overrides.js"),
  runs: () => import("./runs.js"),
};
const SECTION_OF = { conflict: "inbox", contact: "contacts" };

const main = document.getElementById("main");
let session = null; // {api, live, viewer, pairs, canAct, listeners}
let current = null; // the view's {dispose, onEvent, onKey}
// Runs a view started: the view reports them itself, so their RunFinished events are not
// announced a second time (an event may arrive before or after the mutation's answer).
const ownRuns = { pending: 0, ids: new Set() };

function signOut(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  session?.live.close();
  session = null;
  current?.dispose?.();
  current = null;
  document.getElementById("nav").hidden = true;
  document.getElementById("who").hidden = true;
  showSignIn(message);
}

function showSignIn(message) {
  const input = h("input", {
    type: "password",
    name: "api-key",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
  });
  const error = h("p", { class: "form-error", role: "alert" }, message || "");
  const form = h(
    "form",
    { class: "signin-card", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    h("p", { class: "muted" }, "Use an API key (viewer, operator or admin). It is kept for this tab only."),
    field("API key", input),
    error,
    h("button", { type: "submit", class: "btn btn-primary" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    error.textContent = "";
    try {
      await start(key);
      sessionStorage.setItem(KEY_STORAGE, key);
      route();
    } catch (err) {
      error.textContent = err instanceof ApiError && err.code === "UNAUTHENTICATED"
        ? "That key was not accepted."
        : `Sign-in failed: ${err.message}`;
      input.focus();
    }
  });
  render(main, h("section", { class: "signin", "aria-label": "Sign in" }, form));
  document.title = "Sign in · Reconciler console";
  input.focus();
}

async function start(key) {
  const api = new Api(key, null);
  const data = await api.op("pairs", "Pairs", { first: 100 });
  const viewer = data.viewer;
  // Only a key that worked can stop working: then the tab signs out.
  api.onUnauthorised = () => signOut("Your key is no longer accepted: sign in again.");
  const live = new Live(key, (state) => {
    const dot = document.getElementById("live-dot");
    dot.dataset.state = state;
    dot.title = `Live updates: ${state}`;
  });
  session = {
    api,
    live,
    viewer,
    pairs: data.pairs.nodes,
    canAct: viewer.role === "OPERATOR" || viewer.role === "ADMIN",
    isAdmin: viewer.role === "ADMIN",
  };
  document.getElementById("who-name").textContent = viewer.name;
  document.getElementById("who-role").textContent = viewer.role.toLowerCase();
  document.getElementById("nav").hidden = false;
  document.getElementById("who").hidden = false;
  updateOpenCount(data.pairs.nodes.reduce((sum, p) => sum + p.openConflictCount, 0));
  subscribeLive(session);
}

function updateOpenCount(count) {
  const badge = document.getElementById("nav-open-count");
  badge.textContent = count ? String(count) : "";
  badge.setAttribute("aria-label", `${count} open`);
}

async function refreshCount() {
  if (!session) return;
  const data = await session.api.op("inbox", "InboxCounts", {});
  updateOpenCount(data.all.totalCount);
}

function subscribeLive(s) {
  const dispatch = (event) => {
    refreshCount().catch(() => {});
    current?.onEvent?.(event);
  };
  s.live.subscribe("subscriptions", "ConflictOpened", {}, (data) => {
    const c = data.conflictOpened;
    announce(`New conflict: ${c.link?.displayName || "a contact"} (${c.kind.toLowerCase()})`);
    dispatch({ type: "conflictOpened", conflict: c });
  });
  s.live.subscribe("subscriptions", "ConflictResolved", {}, (data) => {
    dispatch({ type: "conflictResolved", conflict: data.conflictResolved });
  });
  s.live.subscribe("subscriptions", "RunFinished", {}, (data) => {
    const run = data.runFinished;
    if (!ownRuns.pending && !ownRuns.ids.has(run.id)) {
      announce(`${run.dryRun ? "Preview" : "Run"} finished: ${run.status}`);
    }
    dispatch({ type: "runFinished", run });
  });
}

function parseHash() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [name, ...rest] = path.split("/");
  return {
    name: ROUTES[name] ? name : "inbox",
    arg: rest.length ? decodeURIComponent(rest.join("/")) : null,
    query: new URLSearchParams(query),
  };
}

async function route() {
  if (!session) return;
  const { name, arg, query } = parseHash();
  const section = SECTION_OF[name] || name;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  current?.dispose?.();
  current = null;
  const module = await ROUTES[name]();
  const view = h("div", { class: "view" });
  render(main, view);
  const ctx = {
    ...session,
    navigate: (hash) => { location.hash = hash; },
    refreshCount: () => refreshCount().catch(() => {}),
    reload: () => route(),
    /** Call before starting a run; call what it returns with the run's id (or null) after. */
    runStarting: () => {
      ownRuns.pending += 1;
      return (runId) => {
        ownRuns.pending -= 1;
        if (runId) ownRuns.ids.add(runId);
      };
    },
    title: (text) => { document.title = `${text} · Reconciler console`; },
  };
  try {
    current = (await module.show(view, ctx, arg, query)) || {};
    // A new view takes the focus (its heading, unless it focused something itself), so
    // keyboard and screen-reader users start from its top rather than a stale link.
    if (!main.contains(document.activeElement) || document.activeElement === main) {
      const heading = view.querySelector("h1");
      if (heading) {
        heading.tabIndex = -1;
        heading.focus({ preventScroll: true });
      }
    }
  } catch (error) {
    if (!session) return;
    render(view, h("div", { class: "notice notice-error", role: "alert" }, `This view could not load: ${error.message}`));
  }
}

document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
window.addEventListener("hashchange", () => route());
document.addEventListener("keydown", (event) => current?.onKey?.(event));

const stored = sessionStorage.getItem(KEY_STORAGE);
if (stored) {
  start(stored).then(route).catch((error) => {
    sessionStorage.removeItem(KEY_STORAGE);
    showSignIn(error instanceof ApiError && error.code === "UNAUTHENTICATED" ? "Sign in again." : error.message);
  });
} else {
  showSignIn();
}
