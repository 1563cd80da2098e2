import { splitLines } from '../sink/line-protocol.js';
import type { StoredBatch } from './store.js';

const NL = 0x0a;
const QUOTE = 0x22;

/** Lines as InfluxDB reads them (a newline inside a quoted string field is part of the value): splitLines. */
function countLines(b: Buffer): number {
  if (b.length === 0) return 0;
  if (b.indexOf(QUOTE) < 0) {
    let n = 1;
    for (let i = b.indexOf(NL); i >= 0; i = b.indexOf(NL, i + 1)) n++;
    return n;
  }
  return splitLines(b.toString()).length;
}

/**
 * Which lines of which stored batch the refused line numbers of a request are, so a partial write of a request
 * that merged several batches (or split them into lanes) dead-letters exactly the refused lines and acknowledges
 * the rest, without sending anything again.
 *
 * A request part is a list of chunks (request.ts, lanes.ts): byte ranges of the batches' stored bodies, with "\n"
 * chunks between them. Each range is found by where it lies in its batch's buffer (a subarray shares the memory of
 * the body it was cut from), and the lines are counted only here, on the rare refusal path: the drain never parses.
 *
 * Returns, per batch id, the 0-based indexes of its refused lines within its stored body (batches without refused
 * lines are absent); undefined when a chunk cannot be placed (the outbox then falls back to resending one by one).
 */
export function attribute(
  group: readonly StoredBatch[],
  parts: readonly (readonly Buffer[])[],
  refused: readonly (readonly number[])[],
): Map<number, number[]> | undefined {
  const out = new Map<number, number[]>();
  for (let p = 0; p < parts.length; p++) {
    const wanted = new Set(refused[p] ?? []);
    if (wanted.size === 0) continue;
    let base = 0; // line number of the chunk's first line within the part
    for (const chunk of parts[p]!) {
      if (chunk.length === 1 && chunk[0] === NL) continue; // the separator between two ranges
      const batch = group.find(
        (b) => chunk.buffer === b.body.buffer && chunk.byteOffset >= b.body.byteOffset && chunk.byteOffset + chunk.length <= b.body.byteOffset + b.body.length,
      );
      if (batch === undefined) return undefined;
      const lines = countLines(chunk);
      // The range starts right after a line's "\n" (or at 0): the lines before it are whole.
      const first = countLines(batch.body.subarray(0, Math.max(0, chunk.byteOffset - batch.body.byteOffset - 1)));
      for (let k = 0; k < lines; k++) {
        if (!wanted.has(base + k)) continue;
        let list = out.get(batch.id);
        if (!list) out.set(batch.id, (list = []));
        list.push(first + k);
      }
      base += lines;
    }
  }
  for (const list of out.values()) list.sort((a, b) => a - b);
  return out;
}
