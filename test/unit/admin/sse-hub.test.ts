import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { BUCKET_MS, LiveView } from '../../../gateway/admin/live/live-view.js';
import { SseHub } from '../../../gateway/admin/live/sse-hub.js';
import type { FiringAlert } from '../../../gateway/alerts/types.js';
import { createLogger } from '../../../gateway/log.js';

const T0 = 1_700_000_000_000 - (1_700_000_000_000 % BUCKET_MS);

/** A page's response stream: what the hub writes, as SSE events `[name, data]`. */
class Page extends EventEmitter {
  text = '';
  writableLength = 0;
  writeHead(): this {
    return this;
  }
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  end(): void {}
  destroy(): void {}
  events(): [string, unknown][] {
    return this.text
      .split('\n\n')
      .map((e) => e.slice(Math.max(0, e.indexOf('event: ')))) // the first is preceded by `retry:`
      .filter((e) => e.startsWith('event: '))
      .map((e) => [e.slice(7, e.indexOf('\n')), JSON.parse(e.slice(e.indexOf('\ndata: ') + 7))]);
  }
}

function setup() {
  const live = new LiveView(T0);
  let firingCalls = 0;
  const firing: FiringAlert[] = [];
  const hub = new SseHub({ live, firing: () => (firingCalls++, firing), now: () => T0 + 1, log: createLogger('silent') });
  const attach = () => {
    const page = new Page();
    hub.attach(new EventEmitter() as IncomingMessage, page as unknown as ServerResponse);
    return page;
  };
  return { live, hub, attach, firing, calls: () => firingCalls };
}

describe('SseHub', () => {
  it('does no work for nobody: with no page open a flush builds no view and reads no alert', () => {
    const { live, hub, attach, calls } = setup();
    live.onReading({ device: 'd', sensor: 'a', ts: T0, value: 1 });
    hub.flush();
    hub.flush();
    expect(calls()).toBe(0);
    // The first page gets everything in its hello; what changed before it is not sent again.
    const page = attach();
    hub.flush();
    expect(page.events()).toEqual([['hello', { now: T0 + 1, sensors: [expect.objectContaining({ device: 'd', sensor: 'a', value: 1 })], firing: [] }]]);
    live.onReading({ device: 'd', sensor: 'b', ts: T0, value: 2 });
    hub.flush();
    expect(page.events().slice(1)).toEqual([['sensors', { now: T0 + 1, sensors: [expect.objectContaining({ sensor: 'b', value: 2 })] }]]);
  });

  it('a second page does not take the changes of the first away; alerts are sent when the list changes', () => {
    const { live, hub, attach, firing } = setup();
    const first = attach();
    live.onReading({ device: 'd', sensor: 'a', ts: T0, value: 1 });
    const second = attach();
    firing.push({ rule: 'hot', kind: 'threshold', device: 'd', sensor: 'a', severity: 'warning', since: T0, firedAt: T0, value: 1 } as unknown as FiringAlert);
    hub.flush();
    hub.flush();
    for (const page of [first, second]) {
      expect(page.events().slice(1).map(([name]) => name)).toEqual(['sensors', 'alerts']);
    }
  });
});
