import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSensorValue, decodeTelemetry, type DecodeSink, type RejectReason } from '../../../gateway/pipeline/decode.js';
import { telemetryObjectSchema } from '../../../gateway/pipeline/payload-schema.js';
import { parseIngestTopic } from '../../../gateway/wire/topics.js';
import { parseRfc3339 } from '../../../gateway/pipeline/timestamp.js';
import type { DeviceMessage } from '../../../gateway/pipeline/types.js';

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const limits = { maxPayloadBytes: 4096 };

function collect() {
  const messages: DeviceMessage[] = [];
  const rejections: { reason: RejectReason; detail: string }[] = [];
  const sink: DecodeSink = {
    message: (m) => messages.push(m),
    reject: (reason, detail) => rejections.push({ reason, detail }),
  };
  return { messages, rejections, sink };
}

function telemetry(payload: unknown, device = 'dev-1') {
  const c = collect();
  const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
  decodeTelemetry(device, buf, NOW, limits, c.sink);
  return c;
}

describe('ingest topics', () => {
  it('parses both topic forms and ignores others', () => {
    expect(parseIngestTopic('devices/gh-1/telemetry')).toEqual({ kind: 'telemetry', device: 'gh-1' });
    expect(parseIngestTopic('devices/gh-1/sensors/temp')).toEqual({ kind: 'sensor', device: 'gh-1', sensor: 'temp' });
    expect(parseIngestTopic('devices/gh-1/status')).toBeUndefined();
    expect(parseIngestTopic('alerts/gh-1/temp/x')).toBeUndefined();
    expect(parseIngestTopic('devices/bad id/telemetry')?.kind).toBe('invalid');
    expect(parseIngestTopic('devices/ok/sensors/bäd')?.kind).toBe('invalid');
    expect(parseIngestTopic(`devices/${'x'.repeat(65)}/telemetry`)?.kind).toBe('invalid');
  });
});

describe('timestamps', () => {
  it('parses RFC 3339 with offsets and fractions, refuses impossible dates', () => {
    expect(parseRfc3339('2024-01-01T00:00:00Z')).toBe(Date.UTC(2024, 0, 1));
    expect(parseRfc3339('2024-01-01T02:00:00.5+02:00')).toBe(Date.UTC(2024, 0, 1, 0, 0, 0, 500));
    expect(parseRfc3339('2024-01-01T00:00:00.123456789Z')).toBe(Date.UTC(2024, 0, 1, 0, 0, 0, 123));
    expect(parseRfc3339('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
    expect(parseRfc3339('2023-02-29T00:00:00Z')).toBeUndefined();
    expect(parseRfc3339('2024-02-30T00:00:00Z')).toBeUndefined();
    expect(parseRfc3339('2024-01-01T24:00:00Z')).toBeUndefined();
    expect(parseRfc3339('2024-01-01')).toBeUndefined();
    expect(parseRfc3339('yesterday')).toBeUndefined();
  });
});

describe('telemetry payloads', () => {
  it('accepts an object with ts, seq and readings', () => {
    const r = telemetry({ ts: NOW - 1000, seq: 7, readings: { temperature: 21.5, humidity: 40 } });
    expect(r.rejections).toEqual([]);
    expect(r.messages).toEqual([
      {
        device: 'dev-1',
        ts: NOW - 1000,
        tsFromDevice: true,
        seq: 7,
        readings: [
          { sensor: 'temperature', value: 21.5 },
          { sensor: 'humidity', value: 40 },
        ],
      },
    ]);
  });

  it('stamps readings without ts with the receive time', () => {
    const r = telemetry({ readings: { t: 1 } });
    expect(r.messages[0]).toMatchObject({ ts: NOW, tsFromDevice: false, seq: undefined });
  });

  it('accepts a backlog array and rejects only its bad elements', () => {
    const r = telemetry([{ ts: NOW - 3000, readings: { t: 1 } }, { ts: 'not a time', readings: { t: 2 } }, { ts: NOW - 1000, readings: { t: 3 } }, 42]);
    expect(r.messages.map((m) => m.readings[0]!.value)).toEqual([1, 3]);
    expect(r.rejections.map((x) => x.reason)).toEqual(['bad_timestamp', 'bad_shape']);
  });

  it('rejects a bad reading but keeps the good ones of the same object', () => {
    const r = telemetry('{"readings":{"ok":1,"bad":"x","bäd":2,"huge":1e999}}');
    expect(r.messages[0]!.readings).toEqual([{ sensor: 'ok', value: 1 }]);
    expect(r.rejections.map((x) => x.reason).sort()).toEqual(['bad_id', 'bad_value', 'bad_value']);
  });

  it.each([
    ['payload_too_large', Buffer.alloc(limits.maxPayloadBytes + 1, 0x20)],
    ['invalid_json', '{"readings":'],
    ['no_readings', '{"readings":{}}'],
    ['no_readings', '{"ts":1700000000000}'],
    ['no_readings', '[]'],
    ['unknown_field', '{"timestamp":1,"readings":{"t":1}}'],
    ['bad_timestamp', '{"ts":946684799999,"readings":{"t":1}}'],
    ['bad_timestamp', `{"ts":${NOW + 86_400_001},"readings":{"t":1}}`],
    ['bad_timestamp', '{"ts":1.5e12,"readings":{"t":1}}'.replace('1.5e12', '1500000000000.5')],
    ['bad_seq', '{"seq":-1,"readings":{"t":1}}'],
    ['bad_seq', '{"seq":"3","readings":{"t":1}}'],
    ['bad_shape', '"hello"'],
    ['bad_shape', 'null'],
  ] as const)('rejects %s', (reason, payload) => {
    const r = telemetry(payload);
    expect(r.messages).toEqual([]);
    expect(r.rejections.map((x) => x.reason)).toEqual([reason]);
  });

  it('turns -0 into 0', () => {
    expect(telemetry('{"readings":{"t":-0}}').messages[0]!.readings[0]!.value).toBe(0);
    expect(Object.is(telemetry('{"readings":{"t":-0}}').messages[0]!.readings[0]!.value, -0)).toBe(false);
  });
});

describe('sensor topic payloads', () => {
  function sensor(payload: string) {
    const c = collect();
    decodeSensorValue('dev-1', 'temp', Buffer.from(payload), NOW, limits, c.sink);
    return c;
  }
  it('accepts a bare number and an object with ts', () => {
    expect(sensor('21.5').messages[0]).toEqual({ device: 'dev-1', ts: NOW, tsFromDevice: false, seq: undefined, readings: [{ sensor: 'temp', value: 21.5 }] });
    expect(sensor('{"ts":"2026-11-28T11:00:00Z","value":-3}').messages[0]).toMatchObject({ ts: Date.UTC(2026, 10, 28, 11), tsFromDevice: true });
  });
  it.each([
    ['bad_value', '"21.5"'],
    ['bad_value', 'true'],
    ['bad_value', '{"value":null}'],
    ['no_readings', '{"ts":1700000000000}'],
    ['unknown_field', '{"value":1,"unit":"C"}'],
    ['invalid_json', '21,5'],
  ] as const)('rejects %s: %s', (reason, payload) => {
    const r = sensor(payload);
    expect(r.messages).toEqual([]);
    expect(r.rejections.map((x) => x.reason)).toEqual([reason]);
  });
});

describe('decoder agrees with the schema of the wire contract', () => {
  const schema = telemetryObjectSchema(NOW);
  const id = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_.-]{1,8}$/), fc.string({ maxLength: 6 }));
  const tsValue = fc.oneof(
    fc.integer({ min: Date.UTC(1999, 11, 31), max: NOW + 2 * 86_400_000 }),
    fc.date({ min: new Date(Date.UTC(1999, 0, 1)), max: new Date(NOW + 2 * 86_400_000), noInvalidDate: true }).map((d) => d.toISOString()),
    fc.double(),
    fc.constant('garbage'),
  );
  const value = fc.oneof(fc.double(), fc.integer(), fc.string({ maxLength: 3 }), fc.constant(null), fc.boolean());
  const obj = fc.record(
    {
      ts: tsValue,
      seq: fc.oneof(fc.nat(), fc.integer({ min: -5, max: -1 }), fc.double()),
      readings: fc.dictionary(id, value, { maxKeys: 4 }),
      extra: fc.constant(1),
    },
    { requiredKeys: [] },
  );

  it('accepts an object whole exactly when the schema does, with the same readings', () => {
    fc.assert(
      fc.property(obj, (o) => {
        const text = JSON.stringify(o);
        if (text === undefined) return;
        const r = telemetry(text);
        const expected = schema.safeParse(JSON.parse(text));
        const acceptedWhole = r.rejections.length === 0 && r.messages.length === 1;
        expect(acceptedWhole).toBe(expected.success);
        if (expected.success) {
          const m = r.messages[0]!;
          expect(m.ts).toBe(expected.data.ts ?? NOW);
          expect(m.seq).toBe(expected.data.seq);
          expect(m.readings).toEqual(Object.entries(expected.data.readings).map(([sensor, v]) => ({ sensor, value: v === 0 ? 0 : v })));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on arbitrary bytes, and accepts only readings with valid ids and finite values', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
          fc.json().map((j) => Buffer.from(j)),
        ),
        (buf) => {
          const r = telemetry(buf);
          for (const m of r.messages) {
            for (const reading of m.readings) {
              expect(reading.sensor).toMatch(/^[A-Za-z0-9_.-]{1,64}$/);
              expect(Number.isFinite(reading.value)).toBe(true);
            }
          }
          expect(r.messages.length + r.rejections.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
