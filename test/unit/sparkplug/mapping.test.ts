import { describe, expect, it } from 'vitest';
import type { DeviceMessage } from '../../../gateway/pipeline/types.js';
import { DataType } from '../../../gateway/sparkplug/datatypes.js';
import { mapMetrics } from '../../../gateway/sparkplug/mapping.js';
import { dbl, payload } from './host-helpers.js';

const NOW = Date.UTC(2026, 11, 5, 8, 0, 0);

function map(metrics: Parameters<typeof payload>[1], payloadTs?: number) {
  const p = payload(0, metrics, payloadTs);
  const messages: DeviceMessage[] = [];
  const skipped: string[] = [];
  mapMetrics(
    'g/e/d',
    p.metrics.map((m) => ({ name: m.name!, datatype: m.datatype ?? DataType.Double, metric: m })),
    p.timestamp,
    NOW,
    {
      message: (m) => messages.push(m),
      skip: (reason) => skipped.push(reason),
    },
  );
  return { messages, skipped };
}

describe('Sparkplug metrics -> readings', () => {
  it('time is the metric timestamp, else the payload timestamp, else arrival', () => {
    const { messages } = map([{ ...dbl('a', undefined, 1), timestamp: BigInt(NOW - 5) }, dbl('b', undefined, 2)], NOW - 9);
    expect(messages).toEqual([
      { device: 'g/e/d', ts: NOW - 5, tsFromDevice: true, seq: undefined, readings: [{ sensor: 'a', value: 1 }] },
      { device: 'g/e/d', ts: NOW - 9, tsFromDevice: true, seq: undefined, readings: [{ sensor: 'b', value: 2 }] },
    ]);
    expect(map([dbl('c', undefined, 3)]).messages[0]).toMatchObject({ ts: NOW, tsFromDevice: false });
  });

  it('consecutive metrics of the same time and kind go as one message', () => {
    const { messages } = map(
      [
        dbl('a', undefined, 1),
        dbl('b', undefined, 2),
        { ...dbl('c', undefined, 3), isHistorical: true },
        { ...dbl('d', undefined, 4), timestamp: BigInt(NOW - 1) },
      ],
      NOW - 9,
    );
    expect(messages.map((m) => [m.ts, m.historical === true, m.readings.map((r) => r.sensor)])).toEqual([
      [NOW - 9, false, ['a', 'b']],
      [NOW - 9, true, ['c']],
      [NOW - 1, false, ['d']],
    ]);
  });

  it('booleans are 0 and 1; names keep their /', () => {
    const { messages } = map([{ name: 'Motor/Running', datatype: DataType.Boolean, value: { case: 'booleanValue', value: true } }]);
    expect(messages[0]!.readings).toEqual([{ sensor: 'Motor/Running', value: 1 }]);
  });

  it('null and transient metrics are skipped, historical ones marked', () => {
    const { messages, skipped } = map([
      { ...dbl('n', undefined, 1), isNull: true },
      { ...dbl('t', undefined, 1), isTransient: true },
      { ...dbl('h', undefined, 4), isHistorical: true },
    ]);
    expect(skipped).toEqual(['null', 'transient']);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ historical: true, readings: [{ sensor: 'h', value: 4 }] });
  });

  it('strings are counted, not windowed; timestamps before 2000 or a day ahead are refused', () => {
    const { messages, skipped } = map([
      { name: 's', datatype: DataType.String, value: { case: 'stringValue', value: 'x' } },
      { ...dbl('old', undefined, 1), timestamp: 5n },
      { ...dbl('ahead', undefined, 1), timestamp: BigInt(NOW + 2 * 86_400_000) },
      { ...dbl('huge', undefined, 1), timestamp: 2n ** 60n },
    ]);
    expect(messages).toEqual([]);
    expect(skipped).toEqual(['string', 'bad_timestamp', 'bad_timestamp', 'bad_timestamp']);
  });
});
