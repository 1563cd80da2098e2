import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { configSchema } from '../../../gateway/config/schema.js';
import { createLogger } from '../../../gateway/log.js';
import { createMetrics } from '../../../gateway/metrics.js';
import { createOutbox, OUTBOX_FILE } from '../../../gateway/outbox/create.js';
import { SqliteOutboxStore } from '../../../gateway/outbox/sqlite-store.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('builds the outbox from the gateway config: {buffer.dir}/outbox.db, batches of influx.batchSize', async () => {
  dir = mkdtempSync(join(tmpdir(), 'outbox-create-'));
  const config = configSchema.parse({ buffer: { dir, maxBytes: '2MiB' }, influx: { batchSize: 2 }, durability: { sync: 'full' } });
  const { outbox, store } = createOutbox(config, { metrics: createMetrics(), log: createLogger('silent') });
  expect(store).toBeInstanceOf(SqliteOutboxStore);
  outbox.append([1, 2, 3].map((i) => ({ measurement: 'm', tags: {}, fields: { v: i }, time: i })));
  expect(outbox.status()).toMatchObject({ points: 2, openPoints: 1 });
  await outbox.close(); // commits the open batch, sends nothing (never started)
  const reopened = new SqliteOutboxStore({ file: join(dir, OUTBOX_FILE), sync: 'normal', log: createLogger('silent') });
  expect(reopened.totals().points).toBe(3);
  reopened.close();
});
