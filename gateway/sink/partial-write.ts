import { parseLine, type FieldType } from './line-protocol.js';

/**
 * Reading InfluxDB 1.x "partial write" answers (HTTP 400: some lines stored, some refused). What 1.6 says,
 * checked against the real server (test/integration/outbox-writer.test.ts):
 *
 *   partial write: field type conflict: input field "v" on measurement "m" is type float, already exists as
 *   type integer dropped=2
 *     -> names only ONE conflicting field even when several differ; dropped counts all refused points.
 *   partial write: unable to parse 'bad line': invalid field format\nunable to parse 'x': ... dropped=0
 *     -> names every unparsable line verbatim; dropped does not count them.
 *   unable to parse '...': ... (no "partial write")
 *     -> nothing parsed, nothing stored.
 *   partial write: points beyond retention policy dropped=N / max-values-per-tag limit exceeded ... dropped=N
 *     -> does not say which.
 *
 * When a partial write gives no line numbers, the writer asks the server for the measurements' field types
 * (SHOW FIELD KEYS) and works out which lines conflict; the result is trusted only if it accounts for exactly
 * `dropped` lines.
 */
export interface PartialWrite {
  readonly dropped: number;
  /** Lines quoted by "unable to parse '<line>'". */
  readonly unparsable: readonly string[];
  readonly typeConflict: boolean;
}

/**
 * 1.x ends with `dropped=N`; 2.x (its 422) adds the target: "... dropped=4 for database: 9f282d63c7d3a5c0 for
 * retention policy: autogen", after "failure writing points to database: "
 * (https://docs.influxdata.com/influxdb/v2/write-data/troubleshoot/#troubleshoot-rejected-points).
 */
const DROPPED = /dropped=(\d+)(?:\s+for database: [\s\S]*)?\s*$/;
const UNPARSABLE = /unable to parse '([\s\S]*?)': [^\n]*/g;

export function parsePartialWrite(text: string): PartialWrite | undefined {
  const message = text.replace(/^failure writing points to database: /, '');
  if (!message.startsWith('partial write:')) return undefined;
  const dropped = Number(DROPPED.exec(message)?.[1] ?? NaN);
  const unparsable = [...message.matchAll(UNPARSABLE)].map((m) => m[1]!);
  return {
    dropped: Number.isNaN(dropped) ? -1 : dropped,
    unparsable,
    typeConflict: message.includes('field type conflict'),
  };
}

/** Indexes of the quoted unparsable lines, if every quoted line was found in the request. */
export function refusedByParse(lines: readonly string[], pw: PartialWrite): number[] | undefined {
  if (pw.unparsable.length === 0 || pw.typeConflict || pw.dropped > 0) return undefined;
  const wanted = new Set(pw.unparsable);
  const idx: number[] = [];
  lines.forEach((l, i) => wanted.has(l) && idx.push(i));
  return idx.length >= wanted.size ? idx : undefined;
}

/** Field types per measurement as the server reports them; several types for one field mean "ambiguous". */
export type SchemaLookup = (measurements: readonly string[]) => Promise<Map<string, Map<string, Set<FieldType>>>>;

/**
 * Indexes of the lines whose field types disagree with the server's schema (InfluxDB refuses the whole point
 * on any conflicting field). Undefined unless the count equals `dropped` and no involved field is ambiguous.
 */
export async function refusedByTypes(lines: readonly string[], pw: PartialWrite, schema: SchemaLookup): Promise<number[] | undefined> {
  if (!pw.typeConflict || pw.unparsable.length > 0 || pw.dropped <= 0) return undefined;
  const parsed = lines.map(parseLine);
  const measurements = [...new Set(parsed.flatMap((p) => (p ? [p.measurement] : [])))];
  const types = await schema(measurements);
  const idx: number[] = [];
  for (let i = 0; i < parsed.length; i++) {
    const p = parsed[i];
    if (!p) return undefined;
    const known = types.get(p.measurement);
    let conflict = false;
    for (const [field, type] of p.fields) {
      const t = known?.get(field);
      if (!t) continue; // a new field that came only with refused points was never created
      if (t.size > 1) return undefined;
      if (!t.has(type)) conflict = true;
    }
    if (conflict) idx.push(i);
  }
  return idx.length === pw.dropped ? idx : undefined;
}
