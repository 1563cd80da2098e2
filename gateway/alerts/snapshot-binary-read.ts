import { ByteFormatError, type ByteReader } from '../persist/byte-codec.js';
import { FORMATS } from '../persist/formats.js';
import { readBlob, readDelta } from '../persist/frame.js';
import { isRows, unpackRows } from '../persist/rows.js';
import { BELOW, FIRING, PENDING } from './snapshot-binary.js';
import type { AlertSnapshot, SavedAlert, SavedSensor } from './snapshot.js';
import { SEVERITIES, type AlertEvent } from './types.js';

export type DecodeResult =
  { readonly ok: true; readonly snapshot: AlertSnapshot; readonly firing: AlertEvent[] } | { readonly ok: false; readonly error: string };

/**
 * Reads an alert snapshot (layout in snapshot-binary.ts) into the state that restore works from, plus the firing
 * events. Called once, at start. The CRC trailer refuses a torn or damaged buffer before
 * anything is decoded; the checks below refuse what the writer never produces (unknown tags, duplicate names,
 * dangling rule indices, trailing bytes), so a bad snapshot is an error result, never a wrong state or a throw.
 */
export function decodeAlertSnapshot(bytes: Uint8Array): DecodeResult {
  try {
    const { snapshot, firing } = isRows(bytes) ? readRows(bytes) : readBlob(bytes, FORMATS.alertSnapshot, read);
    return { ok: true, snapshot, firing };
  } catch (err) {
    return { ok: false, error: `alert snapshot rejected: ${(err as Error).message}` };
  }
}

/**
 * A part kept as rows (alerts/snapshot-rows.ts): each row is a whole snapshot of one device; the state is all
 * of them, merged.
 */
function readRows(bytes: Uint8Array): { snapshot: AlertSnapshot; firing: AlertEvent[] } {
  const sensors: SavedSensor[] = [];
  const firing: AlertEvent[] = [];
  const devices = new Set<string>();
  let savedAt = -Infinity;
  for (const row of unpackRows(bytes).rows) {
    const part = readBlob(row, FORMATS.alertSnapshot, read);
    const device = part.snapshot.sensors[0]?.device;
    if (device === undefined || devices.has(device) || part.snapshot.sensors.some((s) => s.device !== device)) fail('bad device row');
    devices.add(device!);
    if (part.firing.some((e) => e.device !== device)) fail(`a firing event in the row of another device than ${device}`);
    sensors.push(...part.snapshot.sensors);
    firing.push(...part.firing);
    if (part.snapshot.savedAt > savedAt) savedAt = part.snapshot.savedAt;
  }
  return { snapshot: { savedAt: Number.isFinite(savedAt) ? savedAt : 0, sensors }, firing };
}

const fail = (why: string): never => {
  throw new ByteFormatError(why);
};

/** A saved alert whose rule, kind and match are filled in from the rule table that follows the devices. */
type Mutable = { -readonly [K in keyof SavedAlert]: SavedAlert[K] };

function read(r: ByteReader): { snapshot: AlertSnapshot; firing: AlertEvent[] } {
  const delta = readDelta(r, 'times');
  const savedAt = r.num();
  let prev = savedAt;
  const time = (): number => {
    if (!delta) return r.num();
    prev += r.num();
    if (!Number.isFinite(prev)) fail('time out of range');
    return prev;
  };

  const sensors: SavedSensor[] = [];
  const unresolved: Mutable[] = [];
  const indices: number[] = [];
  const devices = new Set<string>();
  for (let n = r.count(4); n > 0; n = r.count(4)) {
    const device = r.str();
    if (devices.has(device)) fail(`duplicate device ${device}`);
    devices.add(device);
    const names = new Set<string>();
    for (let i = 0; i < n; i++) {
      const sensor = r.str();
      if (names.has(sensor)) fail(`duplicate sensor ${device}/${sensor}`);
      names.add(sensor);
      const newestTs = time();
      const lastValue = r.num();
      const alerts: Mutable[] = [];
      const first = indices.length;
      for (let k = r.count(4); k > 0; k--) {
        const index = r.uvar();
        const state = r.u8();
        const phase = state & ~BELOW;
        if (state > (FIRING | BELOW) || (phase !== PENDING && phase !== FIRING)) fail(`bad alert state ${state} of ${device}/${sensor}`);
        if (indices.lastIndexOf(index) >= first) fail(`duplicate alert of ${device}/${sensor}`);
        const since = time();
        const firedAt = time();
        const a: Mutable = {
          rule: '',
          kind: 'threshold',
          match: { device: '', sensor: '' },
          phase: phase === FIRING ? 'firing' : 'pending',
          since,
          firedAt,
          side: state & BELOW ? 'below' : 'above',
        };
        alerts.push(a);
        unresolved.push(a);
        indices.push(index);
      }
      sensors.push({ device, sensor, newestTs, lastValue, alerts });
    }
  }

  const nRules = r.count(4);
  const rules: Array<Pick<SavedAlert, 'rule' | 'kind' | 'match'>> = [];
  const identities = new Set<string>();
  for (let i = 0; i < nRules; i++) {
    const rule = r.str();
    const kind = r.u8();
    if (kind > 1) fail(`bad kind ${kind} of rule ${rule}`);
    const match = { device: r.str(), sensor: r.str() };
    const identity = JSON.stringify([rule, kind, match.device, match.sensor]);
    if (identities.has(identity)) fail(`duplicate rule ${rule}`);
    identities.add(identity);
    rules.push({ rule, kind: kind === 0 ? 'threshold' : 'noData', match });
  }
  for (let i = 0; i < unresolved.length; i++) {
    const a = unresolved[i]!;
    const rule = rules[indices[i]!] ?? fail(`rule index ${indices[i]} out of range`);
    a.rule = rule.rule;
    a.kind = rule.kind;
    a.match = rule.match;
  }

  const firing: AlertEvent[] = [];
  for (let n = r.count(7); n > 0; n--) {
    const device = r.str();
    const sensor = r.str();
    const rule = r.str();
    const severity = SEVERITIES[r.u8()] ?? fail(`bad severity of firing ${rule} on ${device}/${sensor}`);
    const value = r.num();
    const flag = r.u8();
    if (flag > 1) fail(`bad threshold flag of firing ${rule} on ${device}/${sensor}`);
    const threshold = flag === 1 ? r.num() : null;
    const ts = time();
    const since = time();
    firing.push({ device, sensor, rule, state: 'firing', severity, value, threshold, ts, since });
  }
  return { snapshot: { savedAt, sensors }, firing };
}
