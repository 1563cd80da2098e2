import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../gateway/log.js';
import { newEdgeNode, type EdgeNode } from '../../../gateway/sparkplug/edge-node.js';
import { decodeHostSnapshot, encodeHostSnapshot } from '../../../gateway/sparkplug/host-snapshot.js';
import { RowWriter } from '../../../gateway/persist/rows.js';
import { MemoryStateStore } from '../../../gateway/state/memory-state.js';
import { restoreCheckpoint } from '../../../gateway/state/recovery.js';

/** Each part restored from its own bytes; the Sparkplug part through its real decoder. */
function parts() {
  const got: { pipeline?: Uint8Array | undefined; fromRows?: boolean | undefined; alerts?: Uint8Array; nodes?: EdgeNode[] } = {};
  return {
    got,
    parts: {
      pipeline: (snap?: Uint8Array, fromRows?: boolean) => ((got.fromRows = fromRows), (got.pipeline = snap)),
      alerts: { restore: (b: Uint8Array) => void (got.alerts = b) },
      sparkplug: { restore: (b: Uint8Array) => void (got.nodes = decodeHostSnapshot(b)) },
    },
  };
}

function logLines() {
  const lines: { level: number; msg: string }[] = [];
  const log = createLogger('info', { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
  return { log, lines };
}

describe('restoreCheckpoint and the Sparkplug part', () => {
  it('hands each part its own bytes', () => {
    const store = new MemoryStateStore();
    store.append([{ topic: 't', payload: Buffer.from('x'), receivedAt: 1 }]);
    const node = newEdgeNode('g', 'e');
    node.bdSeq = 3;
    store.save({ pipeline: Buffer.from([1]), alerts: Buffer.from([2]), sparkplug: encodeHostSnapshot([node]), savedAt: 5, logPosition: 1 });
    const { got, parts: p } = parts();
    expect(restoreCheckpoint(store, p, logLines().log).position).toBe(1);
    expect([...got.pipeline!]).toEqual([1]);
    expect([...got.alerts!]).toEqual([2]);
    expect(got.nodes).toEqual([node]);
  });

  it('a Sparkplug part that does not decode is logged as an error; the other parts are still restored', () => {
    const store = new MemoryStateStore();
    store.append([{ topic: 't', payload: Buffer.from('x'), receivedAt: 1 }]);
    const damaged = encodeHostSnapshot([newEdgeNode('g', 'e')]);
    damaged[damaged.length - 1] = damaged[damaged.length - 1]! ^ 0xff; // the CRC trailer
    store.save({ pipeline: Buffer.from([1]), alerts: Buffer.from([2]), sparkplug: damaged, savedAt: 5, logPosition: 1 });
    const { got, parts: p } = parts();
    const { log, lines } = logLines();
    expect(restoreCheckpoint(store, p, log).position).toBe(1);
    expect([...got.pipeline!]).toEqual([1]);
    expect([...got.alerts!]).toEqual([2]);
    expect(got.nodes).toBeUndefined();
    expect(lines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual(['sparkplug host state could not be restored: edge nodes will be asked to rebirth']);
  });

  it("tells the pipeline whether its part came from an incremental checkpoint's rows", () => {
    const store = new MemoryStateStore();
    store.append([{ topic: 't', payload: Buffer.from('x'), receivedAt: 1 }]);
    store.save({ pipeline: Buffer.from([1]), alerts: Buffer.from([2]), sparkplug: encodeHostSnapshot([]), savedAt: 5, logPosition: 1 });
    const whole = parts();
    restoreCheckpoint(store, whole.parts, logLines().log);
    expect(whole.got.fromRows).toBe(false);
    const empty = new RowWriter().finish();
    store.saveDelta({
      pipelineHead: Buffer.from([1]),
      pipelineRows: empty,
      pipelineFull: true,
      alertRows: empty,
      alertsFull: true,
      sparkplug: encodeHostSnapshot([]),
      savedAt: 6,
      logPosition: 1,
    });
    const rows = parts();
    restoreCheckpoint(store, rows.parts, logLines().log);
    expect(rows.got.fromRows).toBe(true);
  });
});
