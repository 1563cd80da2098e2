import type { OutPoint } from './point.js';

/**
 * InfluxDB 1.x line protocol (https://docs.influxdata.com/influxdb/v1.6/write_protocols/line_protocol_reference/).
 * `formatPoint` is on the hot path (one call per emitted window): it only pays for escaping when a regex test
 * says a name needs it. The parsing helpers below are for the rare partial-write path only.
 *
 * Names (measurement, tag keys and values, field keys) in 1.6, checked against the server: `\,` `\ ` `\=` are
 * unescaped, any other backslash is stored literally, and there is no way to write a newline, nor a backslash
 * that ends a name or precedes `,` `=` or space (the server refuses or mangles the line). Such characters are
 * written as a space and `/` respectively, so one odd name can never make a whole batch unparsable.
 */

const MEASUREMENT_SPECIAL = /[, \n\r\\]/;
const KEY_SPECIAL = /[,= \n\r\\]/;
const STRING_SPECIAL = /["\\]/;

/** What InfluxDB will store for a name we write: newlines and unwritable backslashes replaced (see above). */
export function storableName(s: string): string {
  return s.replace(/[\n\r]/g, ' ').replace(/\\(?=[,= ]|$)/g, '/');
}

export function escapeMeasurement(s: string): string {
  return MEASUREMENT_SPECIAL.test(s) ? storableName(s).replace(/[, ]/g, '\\$&') : s;
}

/** Tag keys, tag values and field keys. */
export function escapeKey(s: string): string {
  return KEY_SPECIAL.test(s) ? storableName(s).replace(/[,= ]/g, '\\$&') : s;
}

export function quoteString(s: string): string {
  return STRING_SPECIAL.test(s) ? `"${s.replace(/["\\]/g, '\\$&')}"` : `"${s}"`;
}

const INT64_MAX = 9_223_372_036_854_775_807n;
const INT64_MIN = -9_223_372_036_854_775_808n;

function formatInt(v: number): string | undefined {
  if (!Number.isFinite(v)) return undefined;
  const r = Math.round(v);
  if (Number.isSafeInteger(r)) return `${r}i`;
  const big = BigInt(r);
  return big <= INT64_MAX && big >= INT64_MIN ? `${big}i` : undefined;
}

/**
 * One point as one line (no trailing newline), time in ms. Returns undefined when the point has no field
 * InfluxDB can store (a line without fields is a parse error there): NaN and ±Infinity are not representable
 * in line protocol and are left out; the caller counts the point as refused. Empty tag values are left out
 * too (InfluxDB refuses them; a missing tag reads as the empty string anyway).
 */
export function formatPoint(p: OutPoint): string | undefined {
  let line = escapeMeasurement(p.measurement);
  const tags = p.tags;
  for (const k in tags) {
    const v = tags[k];
    if (v === undefined || v === '' || k === '') continue;
    line += `,${escapeKey(k)}=${escapeKey(v)}`;
  }
  let sep = ' ';
  const ints = p.intFields;
  const fields = p.fields;
  for (const k in fields) {
    const v = fields[k];
    let text: string | undefined;
    if (typeof v === 'number') {
      if (ints !== undefined && ints.includes(k)) text = formatInt(v);
      else text = Number.isFinite(v) ? String(v) : undefined;
    } else if (typeof v === 'string') {
      text = quoteString(v);
    } else if (typeof v === 'boolean') {
      text = v ? 'true' : 'false';
    }
    if (text === undefined || k === '') continue;
    line += `${sep}${escapeKey(k)}=${text}`;
    sep = ',';
  }
  if (sep === ' ') return undefined;
  return `${line} ${Math.round(p.time)}`;
}

/**
 * Splits a request body into lines. A newline inside a quoted string field belongs to the value, so the split
 * tracks quotes where a field value starts (the only place where `"` opens a string).
 */
export function splitLines(body: string): string[] {
  if (body.indexOf('"') < 0) return body === '' ? [] : body.split('\n');
  const lines: string[] = [];
  let start = 0;
  let section = 0; // 0: measurement and tags, 1: fields, 2: timestamp
  let quoted = false;
  let afterEq = false; // a field value starts here: only there does `"` open a string
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\') {
      i++;
      afterEq = false;
      continue;
    }
    if (quoted) {
      if (c === '"') quoted = false;
      continue;
    }
    const valueStart = afterEq;
    afterEq = c === '=' && section === 1;
    if (c === '"' && valueStart) quoted = true;
    else if (c === ' ') section++;
    else if (c === '\n') {
      if (i > start) lines.push(body.slice(start, i));
      start = i + 1;
      section = 0;
    }
  }
  if (start < body.length) lines.push(body.slice(start));
  return lines;
}

export type FieldType = 'float' | 'integer' | 'string' | 'boolean';

export interface ParsedLine {
  readonly measurement: string;
  readonly fields: ReadonlyMap<string, FieldType>;
}

const unescapeName = (s: string) => s.replace(/\\([,= ])/g, '$1');

function fieldType(value: string): FieldType {
  const c = value[0];
  if (c === '"') return 'string';
  if (c === 't' || c === 'T' || c === 'f' || c === 'F') return 'boolean';
  return value.endsWith('i') ? 'integer' : 'float';
}

/** Measurement and field types of one line, as InfluxDB would read them. Undefined when it cannot be parsed. */
export function parseLine(line: string): ParsedLine | undefined {
  let i = 0;
  const n = line.length;
  const scanName = (stops: string): string => {
    const from = i;
    while (i < n && !stops.includes(line[i]!)) i += line[i] === '\\' ? 2 : 1;
    return line.slice(from, Math.min(i, n));
  };
  const measurement = unescapeName(scanName(', '));
  while (i < n && line[i] === ',') {
    i++;
    scanName(' ,'); // tag key=value
  }
  if (line[i] !== ' ' || measurement === '') return undefined;
  i++;
  const fields = new Map<string, FieldType>();
  while (i < n) {
    const key = unescapeName(scanName('='));
    if (line[i] !== '=') return undefined;
    i++;
    const from = i;
    if (line[i] === '"') {
      i++;
      while (i < n && line[i] !== '"') i += line[i] === '\\' ? 2 : 1;
      i++;
    } else {
      while (i < n && line[i] !== ',' && line[i] !== ' ') i++;
    }
    const value = line.slice(from, i);
    if (value === '') return undefined;
    fields.set(key, fieldType(value));
    if (line[i] === ',') i++;
    else break;
  }
  return fields.size > 0 ? { measurement, fields } : undefined;
}
