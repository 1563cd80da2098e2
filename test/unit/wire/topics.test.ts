import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSparkplugTopic } from '../../../gateway/sparkplug/topic.js';
import { ID_PATTERN, isIngestTopic, isValidId, parseIngestTopic, type IngestTopic } from '../../../gateway/wire/topics.js';

/** The contract as first written (split + regex): the indexOf version must agree with it on every topic. */
function reference(topic: string): IngestTopic | undefined {
  if (!topic.startsWith('devices/')) return undefined;
  const parts = topic.split('/');
  const device = parts[1] ?? '';
  const bad = (what: string, id: string): IngestTopic => ({
    kind: 'invalid',
    device,
    detail: `${what} id ${JSON.stringify(id)} does not match ${ID_PATTERN.source}`,
  });
  if (parts.length === 3 && parts[2] === 'telemetry') return ID_PATTERN.test(device) ? { kind: 'telemetry', device } : bad('device', device);
  if (parts.length === 4 && parts[2] === 'sensors') {
    const sensor = parts[3]!;
    if (!ID_PATTERN.test(device)) return bad('device', device);
    if (!ID_PATTERN.test(sensor)) return bad('sensor', sensor);
    return { kind: 'sensor', device, sensor };
  }
  return undefined;
}

const segment = fc.oneof(
  fc.constantFrom('devices', 'telemetry', 'sensors', '', 'dev-1', 'x'.repeat(64), 'x'.repeat(65), 'bäd', 'a b', '+', '#', 'telemetryx', 'sensor'),
  fc.stringMatching(/^[A-Za-z0-9_.-]{0,6}$/),
  fc.string({ maxLength: 5 }),
);
const topic = fc.oneof(
  fc.array(segment, { minLength: 1, maxLength: 6 }).map((s) => s.join('/')),
  fc.tuple(segment, segment).map(([d, s]) => `devices/${d}/sensors/${s}`),
  segment.map((d) => `devices/${d}/telemetry`),
  fc.string({ maxLength: 30 }),
);

describe('ingest topic parsing', () => {
  it('agrees with the split + regex definition', () => {
    fc.assert(
      fc.property(topic, (t) => {
        expect(parseIngestTopic(t)).toEqual(reference(t));
      }),
      { numRuns: 5000 },
    );
  });

  it('isValidId agrees with ID_PATTERN', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 70 }), fc.stringMatching(/^[A-Za-z0-9_.-]{0,66}$/), fc.string({ unit: 'binary', maxLength: 4 })), (id) => {
        expect(isValidId(id)).toBe(ID_PATTERN.test(id));
      }),
      { numRuns: 5000 },
    );
  });

  it('isIngestTopic is parseIngestTopic(topic) !== undefined, or a Sparkplug message topic', () => {
    // Topics glued from the contract's own pieces, so near misses (a piece missing, doubled or misspelled) are common.
    const piece = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('devices', '/', 'telemetry', 'sensors', 'devices/', '/telemetry', '/sensors/') },
      { weight: 2, arbitrary: fc.constantFrom('spBv1.0/', 'NBIRTH', 'NDATA', 'DDATA', 'DDEATH', 'NCMD', 'STATE', 'NDAT', 'DBIRTHS') },
      { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.-]{1,8}$/) },
      { weight: 1, arbitrary: fc.constantFrom('', 'bäd', '+', '#', 'x'.repeat(65), 'Devices', 'telemetr', 'sensorsx') },
      { weight: 1, arbitrary: fc.string({ maxLength: 4 }) },
    );
    const glued = fc.array(piece, { minLength: 1, maxLength: 8 }).map((p) => p.join(''));
    const shaped = fc
      .tuple(
        fc.stringMatching(/^[A-Za-z0-9_.-]{0,6}$/),
        fc.constantFrom('telemetry', 'sensors', 'sensor', 'telemetry/', 'sensors/'),
        fc.array(piece, { maxLength: 2 }),
      )
      .map(([id, kind, rest]) => `devices/${id}/${kind}${rest.join('')}`);
    let ingest = 0;
    let other = 0;
    fc.assert(
      fc.property(fc.oneof(glued, shaped, fc.string({ maxLength: 30 })), (t) => {
        const expected = parseIngestTopic(t) !== undefined || parseSparkplugTopic(t) !== undefined;
        expect(isIngestTopic(t)).toBe(expected);
        if (expected) ingest++;
        else other++;
      }),
      { numRuns: 10_000 },
    );
    expect(ingest).toBeGreaterThan(500);
    expect(other).toBeGreaterThan(500);
  });
});
