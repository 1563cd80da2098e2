/**
 * aedes-persistence's own abstract suite (node:test) against the broker's disk store as the gateway opens it
 * (broker/persistence/open.ts: aedes-persistence-level on classic-level, in a fresh folder per instance).
 * Run by test/unit/broker/persistence-contract.test.ts: `node --import tsx --test test/support/persistence-contract.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { openBrokerPersistence } from '../../gateway/broker/persistence/open.js';
import { createLogger } from '../../gateway/log.js';

// The suite is CommonJS without typings: `abstract(opts)` registers its tests on `opts.test`.
const abstract = createRequire(import.meta.url)('aedes-persistence/abstract') as (opts: {
  test: typeof test;
  testAsync: boolean;
  persistence: () => Promise<unknown>;
}) => void;
const root = mkdtempSync(join(tmpdir(), 'broker-store-contract-'));
let n = 0;
process.once('exit', () => rmSync(root, { recursive: true, force: true }));

abstract({
  test,
  // The promise interface, as aedes 1.x calls it (the session bound wraps that interface, not the callback one).
  testAsync: true,
  // With the session bound in place (bounded-queues.ts), as the gateway runs it.
  persistence: async () =>
    (await openBrokerPersistence('disk', join(root, String(n++)), createLogger('silent'), { maxQueuedPerSession: 1000, onQueueFull: () => undefined }))
      .persistence,
});
