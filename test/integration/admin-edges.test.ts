import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DevicesFileError } from '../../gateway/auth/index.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { portsOf, prepareGateway, spawnGateway } from '../support/process.js';

/**
 * The admin server and the watched files against hostile input, on a real gateway over real HTTP: bodies that
 * used to exhaust the stack or the heap, files with alias bombs, requests for a rebound host name. Every one is
 * refused with a message and counted, and the gateway keeps serving (this process would die with it otherwise).
 * InfluxDB is never reached here: it does not matter to the admin API.
 */
const RULES = 'rules:\n  - name: hot\n    match: { device: "gh-*", sensor: temperature }\n    above: 30\n';
const NO_INFLUX = 'http://127.0.0.1:9';

/** A first rule anchors its match, `n` more reuse it. */
const sharedMatch = (n: number) =>
  'rules:\n  - { name: first, match: &m { device: "gh-*", sensor: temperature }, above: 30 }\n' +
  Array.from({ length: n }, (_, i) => `  - { name: r${i}, match: *m, above: 30 }`).join('\n') +
  '\n';

const billionLaughs = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...'bcdefgh'.split('').map(
    (c, i) =>
      `${c}: &${c} [${Array(9)
        .fill('*' + 'abcdefg'[i])
        .join(',')}]`,
  ),
  'rules: *h',
].join('\n');

interface Hostile {
  readonly what: string;
  readonly body: string | Buffer;
  readonly type?: string;
  readonly status: number;
  readonly message: RegExp;
}

const HOSTILE: readonly Hostile[] = [
  { what: '5,000 nested [', body: 'rules: ' + '['.repeat(5000) + ']'.repeat(5000), status: 400, message: /nested more than 64 levels/ },
  { what: '5,000 nested {', body: 'rules: ' + '{a: '.repeat(5000) + '1' + '}'.repeat(5000), status: 400, message: /nested more than 64 levels/ },
  { what: 'unclosed [ as JSON', body: '{"rules": ' + '['.repeat(20_000), type: 'application/json', status: 400, message: /JSON|position|Unexpected/ },
  {
    what: 'block nesting',
    body: Array.from({ length: 300 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' 1\n',
    status: 400,
    message: /nested more than 64 levels/,
  },
  { what: 'billion laughs', body: billionLaughs, status: 400, message: /maxAliasCount/ },
  { what: '1 MB', body: 'rules: []\n' + '#'.repeat(1024 * 1024), status: 413, message: /http\.maxBodyBytes/ },
  {
    what: 'binary as octet-stream',
    body: Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131) % 256)),
    type: 'application/octet-stream',
    status: 415,
    message: /content type/,
  },
  { what: 'binary as text/plain', body: Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131) % 256)), type: 'text/plain', status: 400, message: /./ },
  { what: 'text/html', body: '<html></html>', type: 'text/html', status: 415, message: /content type/ },
  { what: 'multipart', body: '--x\r\n\r\nrules: []\r\n--x--', type: 'multipart/form-data; boundary=x', status: 415, message: /content type/ },
];

/** A raw HTTP request: fetch() cannot set Host. */
function raw(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('admin edges on a running gateway', () => {
  let tg: TestGateway;
  let url: string;

  beforeAll(async () => {
    tg = await startTestGateway({ influxUrl: NO_INFLUX, rules: RULES, overrides: { mqtt: { host: '127.0.0.1', port: 0, wsPort: 0, brokerThread: 'off' } } });
    url = `${tg.httpUrl}/api/thresholds`;
  });
  afterAll(async () => tg?.dispose());

  const metric = async (name: string, labels: string) => {
    const text = await (await fetch(`${tg.httpUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  };
  const health = async () => (await (await fetch(`${tg.httpUrl}/health`)).json()) as Record<string, Record<string, unknown>>;

  it('refuses every hostile PUT body, again and again, with a message and a count; then a normal PUT still works', async () => {
    const before = readFileSync(tg.config.alerts.rulesFile, 'utf8');
    for (let round = 0; round < 3; round++) {
      for (const h of HOSTILE) {
        const res = await fetch(url, { method: 'PUT', headers: { 'content-type': h.type ?? 'application/yaml' }, body: h.body });
        expect(res.status, h.what).toBe(h.status);
        const body = (await res.json()) as { errors: { message: string }[] };
        expect(body.errors[0]!.message, h.what).toMatch(h.message);
      }
    }
    expect(readFileSync(tg.config.alerts.rulesFile, 'utf8')).toBe(before);
    expect(await metric('gateway_admin_rejected_total', 'reason="invalid_body"')).toBe(3 * HOSTILE.filter((h) => h.status === 400).length);
    expect(await metric('gateway_admin_rejected_total', 'reason="body_too_large"')).toBe(3);
    expect(await metric('gateway_admin_rejected_total', 'reason="media_type"')).toBe(9);

    const ok = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body: RULES.replace('30', '31') });
    expect(ok.status).toBe(200);
    expect(tg.gw.alerts.rules()[0]).toMatchObject({ name: 'hot', above: 31 });
    expect((await fetch(`${tg.httpUrl}/health`)).status).toBe(200);
  });

  it('accepts 101 rules sharing one anchored match over PUT (the package default of 100 aliases no longer applies)', async () => {
    const res = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body: sharedMatch(101) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { ruleCount: number }).ruleCount).toBe(102);
    const over = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body: sharedMatch(1000) });
    expect(over.status).toBe(400);
  });

  it('keeps the last good rules when the file is edited to exceed a limit, and reports it with its position', async () => {
    const running = tg.gw.alerts.rules().length;
    const invalidBefore = await metric('gateway_rules_reloads_total', 'result="invalid"');
    writeFileSync(tg.config.alerts.rulesFile, sharedMatch(1000));
    const errors = await waitFor('the over-limit edit in /health', async () => {
      const e = ((await health())['alerts']!['rules'] as { errors: { line?: number; message: string }[] }).errors;
      return e.length > 0 ? e : undefined;
    });
    expect(errors[0]).toMatchObject({ line: 3, message: expect.stringContaining('maxAliasCount') });
    expect(tg.gw.alerts.rules()).toHaveLength(running);
    expect(await metric('gateway_rules_reloads_total', 'result="invalid"')).toBe(invalidBefore + 1);
    const logged = tg.logLines().find((l) => l['msg'] === 'threshold rules file is invalid: the previous rules keep running');
    expect(String((logged?.['errors'] as string[])[0])).toMatch(/thresholds\.yaml:3:\d+: \(file\): aliases expand/);
  });

  it('keeps the last good registry when the devices file is edited to exceed a limit: /health, metric and log say where', async () => {
    const file = tg.config.auth.devicesFile;
    writeFileSync(file, 'devices:\n  - { id: gh-1, tags: &t { site: north } }\n  - { id: gh-2, tags: *t }\n');
    await waitFor('the two devices', async () => ((await health())['devices']!['registered'] === 2 ? true : undefined));
    const bomb =
      'devices:\n  - { id: d0, tags: &t { site: north } }\n' + Array.from({ length: 1000 }, (_, i) => `  - { id: d${i + 1}, tags: *t }`).join('\n') + '\n';
    writeFileSync(file, bomb);
    const errors = await waitFor('the devices error in /health', async () => {
      const e = (await health())['devices']!['errors'] as string[];
      return e.length > 0 ? e : undefined;
    });
    expect(errors[0]).toMatch(/devices\.yaml:3:\d+: \(file\): aliases expand to more than 1000 nodes/);
    expect((await health())['devices']!['registered']).toBe(2);
    expect(tg.gw.devices.registry.ids()).toEqual(['gh-1', 'gh-2']);
    expect(await metric('gateway_devices_reloads_total', 'result="invalid"')).toBe(1);
    writeFileSync(file, 'devices:\n  - id: gh-3\n');
    await waitFor('the fix', async () => (((await health())['devices']!['errors'] as string[]).length === 0 ? true : undefined));
    expect(tg.gw.devices.registry.ids()).toEqual(['gh-3']);
  });

  it('answers only names it knows: a rebound Host gets 421, a foreign Origin cannot write', async () => {
    const port = tg.gw.ports.http;
    const before = readFileSync(tg.config.alerts.rulesFile, 'utf8');
    const rebound = await raw(`${tg.httpUrl}/api/live`, { headers: { host: `evil.example:${port}` } });
    expect(rebound.status).toBe(421);
    expect(rebound.body).not.toContain('sensors');
    const put = await raw(url, { method: 'PUT', headers: { host: `evil.example:${port}`, 'content-type': 'application/yaml' }, body: 'rules: []\n' });
    expect(put.status).toBe(421);
    const csrf = await raw(url, {
      method: 'PUT',
      headers: { host: `127.0.0.1:${port}`, origin: 'http://evil.example', 'content-type': 'application/yaml' },
      body: 'rules: []\n',
    });
    expect(csrf.status).toBe(403);
    expect(readFileSync(tg.config.alerts.rulesFile, 'utf8')).toBe(before);
    expect((await raw(`${tg.httpUrl}/api/live`, { headers: { host: `localhost:${port}` } })).status).toBe(200);
    expect(await metric('gateway_admin_rejected_total', 'reason="host"')).toBe(2);
    expect(await metric('gateway_admin_rejected_total', 'reason="origin"')).toBe(1);
    const logged = tg.logLines().filter((l) => String(l['msg']).startsWith('admin request refused'));
    expect(logged.map((l) => [l['reason'], l['host']])).toEqual([
      ['host', `evil.example:${port}`],
      ['host', `evil.example:${port}`],
      ['origin', `127.0.0.1:${port}`],
    ]);
  });
});

describe('admin edges: start-up and secrets', () => {
  it('starts with no rules (reported) when the rules file exceeds the alias limit, instead of dying', async () => {
    const tg = await startTestGateway({
      influxUrl: NO_INFLUX,
      rules: sharedMatch(1000),
      overrides: { mqtt: { host: '127.0.0.1', port: 0, wsPort: 0, brokerThread: 'off' } },
    });
    try {
      expect(tg.gw.alerts.rules()).toEqual([]);
      const h = (await (await fetch(`${tg.httpUrl}/health`)).json()) as { alerts: { rules: { errors: { message: string }[] } } };
      expect(h.alerts.rules.errors[0]!.message).toContain('maxAliasCount');
    } finally {
      await tg.dispose();
    }
  });

  it('refuses to start on a devices file over the limit with DevicesFileError (exit 2 in main), not a ReferenceError', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-edges-'));
    try {
      writeFileSync(
        join(dir, 'devices.yaml'),
        'devices:\n  - { id: d0, tags: &t { a: b } }\n' + Array.from({ length: 1000 }, (_, i) => `  - { id: d${i + 1}, tags: *t }`).join('\n'),
      );
      await expect(startTestGateway({ influxUrl: NO_INFLUX, dir, rules: RULES })).rejects.toThrow(DevicesFileError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never shows the InfluxDB password in /health, even with a token set (/health stays open)', async () => {
    const tg = await startTestGateway({
      influxUrl: 'http://writer:s3cret-pw@127.0.0.1:9/?p=also-secret&db=iot',
      overrides: {
        mqtt: { host: '127.0.0.1', port: 0, wsPort: 0, brokerThread: 'off' },
        http: { host: '127.0.0.1', port: 0, token: 'edges-test-token-0123456789' },
      },
    });
    try {
      const text = await (await fetch(`${tg.httpUrl}/health`)).text();
      expect(text).not.toContain('s3cret-pw');
      expect(text).not.toContain('also-secret');
      expect(JSON.parse(text).influx.url).toBe('http://writer:***@127.0.0.1:9/?p=***&db=iot');
    } finally {
      await tg.dispose();
    }
  });
});

describe('admin edges: the real process (npm run build first)', () => {
  it('survives repeated hostile bodies and over-limit file edits, then takes a normal PUT', async () => {
    // Before the YAML limits, the 5th to 10th of these requests aborted the process (V8 out of memory after
    // repeated stack exhaustion in the YAML composer), and an alias bomb in a watched file ended it too.
    const dir = mkdtempSync(join(tmpdir(), 'gw-edges-proc-'));
    const f = await prepareGateway(dir, NO_INFLUX);
    const gp = await spawnGateway(f.configFile, { ports: portsOf(f) });
    try {
      const put = (body: string) => fetch(`${gp.httpUrl}/api/thresholds`, { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body });
      for (let i = 0; i < 30; i++) {
        const res = await put(i % 3 === 2 ? billionLaughs : 'rules: ' + (i % 3 ? '{a: ' : '[').repeat(5000));
        expect(res.status).toBe(400);
        await res.arrayBuffer();
      }
      writeFileSync(join(dir, 'thresholds.yaml'), sharedMatch(1000));
      writeFileSync(join(dir, 'devices.yaml'), 'devices: ' + '['.repeat(10_000));
      await waitFor('both reloads refused', async () =>
        (await gp.metric('gateway_rules_reloads_total')) === 1 && (await gp.metric('gateway_devices_reloads_total')) === 1 ? true : undefined,
      );
      const ok = await put(RULES);
      expect(ok.status).toBe(200);
      expect(await gp.metric('gateway_admin_rejected_total')).toBe(30);
      expect((await fetch(`${gp.httpUrl}/health`)).status).toBe(200);
    } finally {
      const { code } = await gp.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
      expect(code).toBe(0);
    }
  });
});
