import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openBrokerPersistence, type OpenedPersistence } from '../../../gateway/broker/persistence/open.js';
import { createLogger } from '../../../gateway/log.js';

/** The session bound on the real disk store (aedes-persistence-level on classic-level), driven as aedes drives it. */
const broker = { id: 'broker-1', counter: 0 };
const packet = (n: number) => ({
  cmd: 'publish',
  topic: 'devices/gh-1/status',
  payload: Buffer.from(String(n)),
  qos: 1,
  retain: false,
  dup: false,
  brokerId: broker.id,
  brokerCounter: n,
});

describe('persistent session queues are bounded (mqtt.maxQueuedPerSession)', () => {
  const dirs: string[] = [];
  let opened: OpenedPersistence | undefined;
  afterEach(async () => {
    await opened?.close();
    opened = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function open(dir: string, max: number, drops: string[]) {
    opened = await openBrokerPersistence('disk', dir, createLogger('silent'), { maxQueuedPerSession: max, onQueueFull: () => drops.push('x') });
    const p = opened.persistence!;
    await p.setup(broker);
    return p;
  }

  async function stored(p: NonNullable<OpenedPersistence['persistence']>, id: string): Promise<number[]> {
    const out: number[] = [];
    for await (const q of p.outgoingStream({ id })) out.push(q.brokerCounter!);
    return out;
  }

  it('keeps the oldest `max` messages of an away session, counts the rest, frees a slot per acknowledgement, and holds across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bounded-queues-'));
    dirs.push(dir);
    const drops: string[] = [];
    let p = await open(dir, 3, drops);
    const subs = [
      { clientId: 'dash', topic: 'devices/#', qos: 1 },
      { clientId: 'other', topic: 'devices/#', qos: 1 },
    ];
    for (let n = 1; n <= 5; n++) await p.outgoingEnqueueCombi(n <= 2 ? subs : subs.slice(0, 1), packet(n));
    expect(await stored(p, 'dash')).toEqual([1, 2, 3]);
    expect(await stored(p, 'other')).toEqual([1, 2]);
    expect(drops).toHaveLength(2);

    // The same message enqueued again (aedes does so for a connected persistent session) takes no second slot.
    await p.outgoingEnqueue({ clientId: 'dash' }, packet(3));
    // Delivered and acknowledged: a slot is free again.
    await p.outgoingUpdate({ id: 'dash' }, { ...packet(1), messageId: 41 });
    expect(await p.outgoingClearMessageId({ id: 'dash' }, { messageId: 41 })).toMatchObject({ brokerCounter: 1 });
    await p.outgoingEnqueueCombi(subs.slice(0, 1), packet(6));
    await p.outgoingEnqueueCombi(subs.slice(0, 1), packet(7));
    expect(await stored(p, 'dash')).toEqual([2, 3, 6]);
    expect(drops).toHaveLength(3);

    // After a restart the bound starts from what is stored.
    await opened!.close();
    p = await open(dir, 3, drops);
    await p.outgoingEnqueueCombi(subs.slice(0, 1), packet(8));
    expect(await stored(p, 'dash')).toEqual([2, 3, 6]);
    expect(drops).toHaveLength(4);
    await p.outgoingEnqueueCombi(subs.slice(1), packet(9));
    expect(await stored(p, 'other')).toEqual([1, 2, 9]);
  });
});
