/**
 * Event timestamps on the wire: epoch milliseconds (a safe integer) or an RFC 3339 string. RFC 3339 is parsed
 * here rather than with Date.parse alone, because V8 accepts impossible dates such as 2024-02-30.
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Earliest accepted event time: 2000-01-01T00:00:00Z. Earlier is a device with an unset clock. */
export const MIN_TS = Date.UTC(2000, 0, 1);
/** How far ahead of the gateway clock a device may be before its timestamps are refused. */
export const MAX_AHEAD_MS = 86_400_000;

export function parseRfc3339(text: string): number | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  let t = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  if (new Date(t).getUTCDate() !== day) return undefined; // rolled over: no such day in that month
  if (m[9]) {
    const offH = Number(m[10]);
    const offM = Number(m[11]);
    if (offH > 23 || offM > 59) return undefined;
    const offset = (offH * 60 + offM) * 60_000;
    t += m[9] === '+' ? -offset : offset;
  }
  return t;
}
