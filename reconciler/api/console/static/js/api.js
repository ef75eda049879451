// The console's only way to the server: GraphQL over HTTP (queries, mutations) and over a
// graphql-transport-ws WebSocket (subscriptions). Operation documents come from the server's
// graphql/operations/ files, never from strings in this code, so the schema contract test
// checks everything the console sends.

const OPERATIONS_URL = new URL("../../operations/", import.meta.url);
const GRAPHQL_URL = new URL("../../../graphql", import.meta.url);

export class ApiError extends Error {
  constructor(message, { code = "ERROR", status = 0 } = {}) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = status;
  }
}

const documents = new Map();

/** The text of operations/<file>.graphql (fetched once per page load). */
export function loadDocument(file) {
  if (!documents.has(file)) {
    const loading = fetch(new URL(`${file}.graphql`, OPERATIONS_URL), { credentials: "omit" })
      .then((response) => {
        if (!response.ok) throw new ApiError(`operation document ${file} is missing`);
        return response.text();
      });
    loading.catch(() => documents.delete(file));
    documents.set(file, loading);
  }
  return documents.get(file);
}

export class Api {
  /** @param {string} key the API key; @param {() => void} onUnauthorised */
  constructor(key, onUnauthorised) {
    this.key = key;
    this.onUnauthorised = onUnauthorised;
  }

  /** Run operation `name` of operations/<file>.graphql; resolves to its `data`. */
  async op(file, name, variables = {}) {
    const query = await loadDocument(file);
    let response;
    try {
      response = await fetch(GRAPHQL_URL, {
        method: "POST",
        credentials: "omit",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          authorization: `Bearer ${this.key}`,
        },
        body: JSON.stringify({ query, operationName: name, variables }),
      });
    } catch (error) {
      throw new ApiError(`the server cannot be reached (${error.message})`, { code: "NETWORK" });
    }
    let body = null;
    try {
      body = await response.json();
    } catch {
      throw new ApiError(`the server answered ${response.status} without GraphQL`, {
        status: response.status,
      });
    }
    const errors = body.errors || [];
    if (errors.length) {
      const code = errors[0].extensions?.code || "ERROR";
      if (code === "UNAUTHENTICATED") this.onUnauthorised?.();
      throw new ApiError(errors.map((e) => e.message).join("; "), { code, status: response.status });
    }
    return body.data;
  }

  /** The first user error of a mutation payload as an ApiError, if any. */
  static check(payload) {
    const problems = payload?.userErrors || [];
    if (problems.length) {
      const first = problems[0];
      throw new ApiError(problems.map((p) => p.message).join("; "), { code: first.code });
    }
    return payload;
  }
}

const PROTOCOL = "graphql-transport-ws";

/**
 * One WebSocket for all the console's subscriptions; reconnects with backoff and
 * re-subscribes. `onState(state)` is told "connecting", "live" or "offline".
 */
export class Live {
  constructor(key, onState = () => {}) {
    this.key = key;
    this.onState = onState;
    this.subs = new Map(); // id -> {file, name, variables, onData}
    this.nextId = 1;
    this.socket = null;
    this.acked = false;
    this.closed = false;
    this.retry = 0;
    this.timer = null;
  }

  async subscribe(file, name, variables, onData) {
    const id = String(this.nextId++);
    const query = await loadDocument(file);
    this.subs.set(id, { query, name, variables, onData });
    if (this.acked) this.#send({ id, type: "subscribe", payload: { query, operationName: name, variables } });
    else this.#connect();
    return () => {
      this.subs.delete(id);
      if (this.acked) this.#send({ id, type: "complete" });
    };
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.socket?.close(1000, "signed out");
  }

  #send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  #connect() {
    if (this.closed || this.socket) return;
    const url = new URL(GRAPHQL_URL);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    this.onState("connecting");
    const socket = new WebSocket(url, PROTOCOL);
    this.socket = socket;
    socket.addEventListener("open", () => {
      // Browsers cannot set headers on a WebSocket: the key travels in connection_init.
      socket.send(JSON.stringify({
        type: "connection_init",
        payload: { Authorization: `Bearer ${this.key}` },
      }));
    });
    socket.addEventListener("message", (event) => this.#receive(JSON.parse(event.data)));
    socket.addEventListener("close", (event) => {
      this.socket = null;
      this.acked = false;
      if (this.closed) return;
      this.onState("offline");
      if (event.code === 4403 || event.code === 4401) return; // refused key: no retry loop
      const delay = Math.min(30000, 500 * 2 ** this.retry++) * (0.5 + Math.random() / 2);
      this.timer = setTimeout(() => this.#connect(), delay);
    });
  }

  #receive(message) {
    switch (message.type) {
      case "connection_ack":
        this.acked = true;
        this.retry = 0;
        this.onState("live");
        for (const [id, sub] of this.subs) {
          this.#send({
            id,
            type: "subscribe",
            payload: { query: sub.query, operationName: sub.name, variables: sub.variables },
          });
        }
        break;
      case "ping":
        this.#send({ type: "pong" });
        break;
      case "next": {
        const sub = this.subs.get(message.id);
        if (sub && message.payload?.data) sub.onData(message.payload.data);
        break;
      }
      default:
        break;
    }
  }
}
