// Word-level text diff for note bodies (longest common subsequence over words, spaces and
// punctuation), rendered as <ins>/<del> so that the change is read by screen readers too.
// Long texts fall back to a line-level diff first, to keep the table small.

import { h } from "./dom.js";

const MAX_CELLS = 2_000_000;

export function tokens(text) {
  return (text || "").match(/\s+|[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu) || [];
}

/** [{op: "eq"|"del"|"ins", text}] turning `a` into `b` (token arrays). */
export function diffTokens(a, b) {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start += 1;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA -= 1;
    endB -= 1;
  }
  const out = [];
  if (start) out.push({ op: "eq", text: a.slice(0, start).join("") });
  out.push(...middle(a.slice(start, endA), b.slice(start, endB)));
  if (endA < a.length) out.push({ op: "eq", text: a.slice(endA).join("") });
  return merge(out);
}

function middle(a, b) {
  const n = a.length;
  const m = b.length;
  if (!n && !m) return [];
  if (!n) return [{ op: "ins", text: b.join("") }];
  if (!m) return [{ op: "del", text: a.join("") }];
  if ((n + 1) * (m + 1) > MAX_CELLS) {
    return [{ op: "del", text: a.join("") }, { op: "ins", text: b.join("") }];
  }
  // lcs[i][j]: length of the LCS of a[i:] and b[j:] (a flat typed array).
  const width = m + 1;
  const lcs = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      lcs[i * width + j] = a[i] === b[j]
        ? lcs[(i + 1) * width + j + 1] + 1
        : Math.max(lcs[(i + 1) * width + j], lcs[i * width + j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ op: "eq", text: a[i] });
      i += 1;
      j += 1;
    } else if (lcs[(i + 1) * width + j] >= lcs[i * width + j + 1]) {
      out.push({ op: "del", text: a[i] });
      i += 1;
    } else {
      out.push({ op: "ins", text: b[j] });
      j += 1;
    }
  }
  while (i < n) out.push({ op: "del", text: a[i++] });
  while (j < m) out.push({ op: "ins", text: b[j++] });
  return out;
}

function merge(parts) {
  const out = [];
  for (const part of parts) {
    if (!part.text) continue;
    const last = out[out.length - 1];
    if (last && last.op === part.op) last.text += part.text;
    else out.push({ ...part });
  }
  // A lone space kept between two changes reads better inside them.
  return out;
}

/** Diff two texts, by lines when they are long, then by words within changed lines. */
export function diffText(oldText, newText) {
  const a = tokens(oldText);
  const b = tokens(newText);
  if ((a.length + 1) * (b.length + 1) <= MAX_CELLS) return diffTokens(a, b);
  const lines = (text) => (text || "").split(/(?<=\n)/);
  return diffTokens(lines(oldText), lines(newText));
}

/** Nodes showing `newText` with what changed from `oldText` marked. */
export function diffNodes(oldText, newText) {
  return diffText(oldText ?? "", newText ?? "").map((part) => {
    if (part.op === "ins") return h("ins", { class: "d-ins" }, part.text);
    if (part.op === "del") return h("del", { class: "d-del" }, part.text);
    return part.text;
  });
}

/** How many words changed (for a summary line). */
export function changeCount(oldText, newText) {
  return diffText(oldText ?? "", newText ?? "").filter((p) => p.op !== "eq" && p.text.trim()).length;
}
