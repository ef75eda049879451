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
    // Too many words to compare each with each: compare whole lines instead (once).
    const lines = (tokens) => tokens.join("").split(/(?<=\n)/);
    const [la, lb] = [lines(a), lines(b)];
    if (la.length < n && (la.length + 1) * (lb.length + 1) <= MAX_CELLS) return middle(la, lb);
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
  // Blocks: {eq} or {del, ins}; neighbouring changes join into one block.
  const blocks = [];
  for (const part of parts) {
    if (!part.text) continue;
    const last = blocks[blocks.length - 1];
    if (part.op === "eq") {
      if (last && last.eq !== undefined) last.eq += part.text;
      else blocks.push({ eq: part.text });
    } else if (last && last.eq === undefined) {
      last[part.op] += part.text;
    } else {
      blocks.push({ del: "", ins: "", [part.op]: part.text });
    }
  }
  semanticCleanup(blocks);
  const out = [];
  for (const block of blocks) {
    if (block.eq !== undefined) out.push({ op: "eq", text: block.eq });
    else {
      if (block.del) out.push({ op: "del", text: block.del });
      if (block.ins) out.push({ op: "ins", text: block.ins });
    }
  }
  return out;
}

/**
 * An LCS keeps every common word, so two different sentences come out as confetti ("the"
 * and the spaces kept, everything else swapped). As diff-match-patch's semantic cleanup does,
 * an equality no longer than the changes on both its sides is folded into them.
 */
function semanticCleanup(blocks) {
  const size = (b) => Math.max(b.del.length, b.ins.length);
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = 1; i < blocks.length - 1; i += 1) {
      const [left, eq, right] = [blocks[i - 1], blocks[i], blocks[i + 1]];
      if (eq.eq === undefined || left.eq !== undefined || right.eq !== undefined) continue;
      if (eq.eq.length <= size(left) && eq.eq.length <= size(right)) {
        blocks.splice(i - 1, 3, {
          del: left.del + eq.eq + right.del,
          ins: left.ins + eq.eq + right.ins,
        });
        changed = true;
        break;
      }
    }
  }
}

/** Diff two texts by words (by lines where the changed middle is too long for words). */
export function diffText(oldText, newText) {
  return diffTokens(tokens(oldText), tokens(newText));
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
