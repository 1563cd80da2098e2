/**
 * Splits one request body of line protocol into `lanes` bodies by series (measurement + tag set: the bytes up to
 * the first unescaped space), so a backlog drains over parallel requests: InfluxDB 1.x parses each request on
 * one core, and on a 2-core box two requests at once store ~1.6x the points of one (BENCHMARKS.md, outbox).
 *
 * Order is what makes this safe: every line of a series goes to the same lane, in the order it had, so a later
 * version of a window (same series and time) still follows the earlier one within one request. The drainer
 * sends a group's lanes together and the next group only once all of them have settled.
 */
const NEWLINE = 0x0a;
const SPACE = 0x20;
const BACKSLASH = 0x5c;
const KEY_TAIL = 24;

export function splitBySeries(body: Buffer, lanes: number): Buffer[] {
  if (lanes <= 1) return [body];
  const ranges: number[][] = Array.from({ length: lanes }, () => []);
  const n = body.length;
  let start = 0;
  while (start < n) {
    let end = body.indexOf(NEWLINE, start);
    if (end < 0) end = n;
    if (end > start) {
      // The key ends at the first space that is not escaped ("\ " belongs to the key).
      let keyEnd = body.indexOf(SPACE, start);
      while (keyEnd > start && keyEnd < end && body[keyEnd - 1] === BACKSLASH) keyEnd = body.indexOf(SPACE, keyEnd + 1);
      if (keyEnd < 0 || keyEnd > end) keyEnd = end;
      // FNV-1a over the key's last bytes (where device and sensor tags sit): any function of the key alone keeps a
      // series in one lane, and this one costs a few dozen steps per line.
      let h = 0x811c9dc5;
      for (let i = keyEnd > start + KEY_TAIL ? keyEnd - KEY_TAIL : start; i < keyEnd; i++) h = Math.imul(h ^ body[i]!, 0x01000193);
      ranges[(h >>> 0) % lanes]!.push(start, end);
    }
    start = end + 1;
  }
  // Copied straight into one buffer per lane: a subarray per line would be an object per point.
  const out: Buffer[] = [];
  for (const r of ranges) {
    if (r.length === 0) continue;
    let size = r.length / 2 - 1;
    for (let k = 0; k < r.length; k += 2) size += r[k + 1]! - r[k]!;
    const lane = Buffer.allocUnsafe(size);
    let at = 0;
    for (let k = 0; k < r.length; k += 2) {
      if (k > 0) lane[at++] = NEWLINE;
      at += body.copy(lane, at, r[k], r[k + 1]);
    }
    out.push(lane);
  }
  return out;
}
