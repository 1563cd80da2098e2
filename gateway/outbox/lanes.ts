import { splitLines } from '../sink/line-protocol.js';

/**
 * How a backlog drains over parallel requests by series: InfluxDB 1.x parses each request on one core, and on a
 * 2-core box two requests at once store ~1.6x the points of one (BENCHMARKS.md, outbox).
 *
 * The split is prepared when a batch is committed, where each line is still a string of its own: the lines are
 * stored grouped by series bucket (a hash of the series key into SERIES_BUCKETS buckets), stably, with the byte
 * offset where each bucket starts (`cuts`). A lane is a contiguous run of buckets, so at drain time a batch's part
 * of a lane is one byte range of its stored body: no line is parsed or hashed while InfluxDB waits for the next
 * request, and `influx.writeLanes` may change between runs (any lane count up to SERIES_BUCKETS maps buckets to
 * lanes). A batch whose stored cuts do not fit its body (a damaged row) is grouped again when it is read, with the
 * same hash, so every batch of one request agrees on the lane of a series.
 *
 * Order is what makes this safe: every line of a series is in one bucket, hence one lane, in the order it had, so
 * a later version of a window (same series and time) still follows the earlier one within one request. The drainer
 * sends a group's lanes together and the next group only once all of them have settled.
 */
export const SERIES_BUCKETS = 64;
const KEY_TAIL = 24;
const BACKSLASH = 0x5c;

/** Bucket of a line's series key (measurement + tag set: everything up to the first unescaped space). */
export function seriesBucket(line: string): number {
  let end = line.indexOf(' ');
  while (end > 0 && line.charCodeAt(end - 1) === BACKSLASH) end = line.indexOf(' ', end + 1);
  if (end < 0) end = line.length;
  // FNV-1a over the key's last characters (where device and sensor tags sit), then a final mix so the bucket
  // (the top bits) depends on every character: any function of the key alone keeps a series in one lane.
  let h = 0x811c9dc5;
  for (let i = end > KEY_TAIL ? end - KEY_TAIL : 0; i < end; i++) h = Math.imul(h ^ line.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 26; // 6 bits: SERIES_BUCKETS = 64
}

/** A batch body as stored: lines grouped by series bucket; `cuts[k]` is the byte offset where bucket k starts. */
export interface GroupedBody {
  readonly body: string;
  /** SERIES_BUCKETS + 1 offsets; the last is the body's UTF-8 length + 1 (as if every line ended in "\n"). */
  readonly cuts: Uint32Array;
}

/** Called once per committed batch (influx.batchSize lines): a counting sort, stable within each bucket. */
export function groupBySeries(lines: readonly string[]): GroupedBody {
  const n = lines.length;
  const buckets = new Uint8Array(n);
  const count = new Uint32Array(SERIES_BUCKETS);
  // Offsets in characters first: the same as UTF-8 bytes when the body is ASCII (checked once below).
  const cuts = new Uint32Array(SERIES_BUCKETS + 1);
  for (let i = 0; i < n; i++) {
    const line = lines[i]!;
    const b = seriesBucket(line);
    buckets[i] = b;
    count[b]!++;
    cuts[b + 1]! += line.length + 1;
  }
  const next = new Uint32Array(SERIES_BUCKETS);
  for (let b = 1; b < SERIES_BUCKETS; b++) next[b] = next[b - 1]! + count[b - 1]!;
  const ordered = new Array<string>(n);
  for (let i = 0; i < n; i++) ordered[next[buckets[i]!]!++] = lines[i]!;
  const body = ordered.join('\n');
  if (Buffer.byteLength(body) !== body.length) {
    cuts.fill(0);
    for (let i = 0; i < n; i++) cuts[buckets[i]! + 1]! += Buffer.byteLength(lines[i]!) + 1;
  }
  for (let b = 0; b < SERIES_BUCKETS; b++) cuts[b + 1]! += cuts[b]!;
  return { body, cuts };
}

/** Cuts that fit the body (checked on every read: a damaged or foreign BLOB must not cut lines apart). */
export function validCuts(cuts: Uint32Array, bodyBytes: number): boolean {
  if (cuts.length !== SERIES_BUCKETS + 1 || cuts[0] !== 0 || cuts[SERIES_BUCKETS] !== bodyBytes + 1) return false;
  for (let b = 0; b < SERIES_BUCKETS; b++) if (cuts[b + 1]! < cuts[b]!) return false;
  return true;
}

/** A stored body without valid cuts (a damaged row), grouped now: same hash, so it agrees with grouped batches. */
export function regroup(body: Buffer): { body: Buffer; cuts: Uint32Array } {
  const g = groupBySeries(splitLines(body.toString()));
  return { body: Buffer.from(g.body), cuts: g.cuts };
}

const NEWLINE = Buffer.from('\n');

/** Buffers sent one after the other, "\n" between them (the HTTP client writes them in one writev, no joined copy). */
export function withNewlines(pieces: readonly Buffer[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (const p of pieces) {
    if (chunks.length > 0) chunks.push(NEWLINE);
    chunks.push(p);
  }
  return chunks;
}

/**
 * The bodies of one request split into `lanes` (<= SERIES_BUCKETS) by series: lane l carries buckets
 * [ceil(l*B/L), ceil((l+1)*B/L)) of every batch, in batch order, as byte ranges of the stored bodies. Empty
 * lanes are left out.
 */
export function splitIntoLanes(batches: readonly { readonly body: Buffer; readonly cuts: Uint32Array }[], lanes: number): Buffer[][] {
  const first = (l: number) => Math.ceil((l * SERIES_BUCKETS) / lanes);
  const pieces: Buffer[][] = Array.from({ length: lanes }, () => []);
  for (const batch of batches) {
    const { body, cuts } = validCuts(batch.cuts, batch.body.length) ? batch : regroup(batch.body);
    for (let l = 0; l < lanes; l++) {
      const from = cuts[first(l)]!;
      const to = cuts[first(l + 1)]!;
      if (to > from) pieces[l]!.push(body.subarray(from, to - 1)); // without the line's trailing "\n"
    }
  }
  return pieces.filter((p) => p.length > 0).map(withNewlines);
}
