import { readFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../../gateway/config/load.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { connect, publish } from '../support/mqtt.js';

/**
 * The operator page's server side over real HTTP: the admin token (bearer, login cookie, what stays open),
 * the live model fed by real MQTT readings, the SSE stream and the rule preview. The browser test
 * (operator-page-browser.test.ts) drives the page itself.
 */
const TOKEN = 'operator-test-token-0123456789';
const RULES = 'rules:\n  - name: hot\n    match: { device: "gh-*", sensor: temperature }\n    above: 30\n';

describe('admin config: a non-loopback admin server needs a token', () => {
  it('refuses http.host 0.0.0.0 without a token, with the reason', () => {
    expect(() => validateConfig({ http: { host: '0.0.0.0' } }, 'gateway.yaml')).toThrow(ConfigError);
    expect(() => validateConfig({ http: { host: '0.0.0.0' } }, 'gateway.yaml')).toThrow(/http\.token.*required when http\.host is not a loopback address/s);
  });

  it('accepts the configuration shown in docs/operator-page.md', () => {
    const doc = readFileSync('docs/operator-page.md', 'utf8');
    const snippet = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).find((s) => s.startsWith('http:'))!;
    const config = validateConfig(parse(snippet) as Record<string, unknown>, 'docs/operator-page.md');
    expect(config.http).toMatchObject({ host: '0.0.0.0', port: 8080 });
    expect(config.http.token!.length).toBeGreaterThanOrEqual(16);
  });

  it('accepts the http.grafanaUrl and http.units snippets of docs/operator-page.md', () => {
    const doc = readFileSync('docs/operator-page.md', 'utf8');
    const snippets = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!.replace(/^ {4}/gm, ''));
    const grafana = snippets.find((s) => s.includes('grafanaUrl'))!;
    expect(validateConfig(parse(grafana) as Record<string, unknown>, 'docs/operator-page.md').http.grafanaUrl).toContain('{device}');
    const units = snippets.find((s) => s.includes('units:'))!;
    expect(validateConfig(parse(units) as Record<string, unknown>, 'docs/operator-page.md').http.units).toEqual({ 'temp*': '°C', humidity: '%', co2: 'ppm' });
  });

  it('accepts it with a token, and loopback hosts without one', () => {
    expect(validateConfig({ http: { host: '0.0.0.0', token: TOKEN } }, 'x').http.token).toBe(TOKEN);
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) expect(validateConfig({ http: { host } }, 'x').http.host).toBe(host);
  });
});

describe('operator page API with http.token set', () => {
  let tg: TestGateway;
  let device: MqttClient;

  beforeAll(async () => {
    // InfluxDB is never reached here: points wait in the outbox, which does not matter to the page.
    tg = await startTestGateway({ influxUrl: 'http://127.0.0.1:9', overrides: { http: { host: '127.0.0.1', port: 0, token: TOKEN } }, rules: RULES });
    device = await connect(tg.mqttUrl, { clientId: 'gh-1' });
  });

  afterAll(async () => {
    await device?.endAsync();
    await tg?.dispose();
  });

  const bearer = { authorization: `Bearer ${TOKEN}` };

  it('refuses every API call without the token (401) and changes nothing', async () => {
    const before = readFileSync(tg.config.alerts.rulesFile, 'utf8');
    for (const path of ['/api/thresholds', '/api/alerts', '/api/live', '/api/live/events', '/api/thresholds/preview', '/metrics']) {
      const res = await fetch(tg.httpUrl + path);
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate'), path).toContain('Bearer');
    }
    const put = await fetch(`${tg.httpUrl}/api/thresholds`, {
      method: 'PUT',
      headers: { 'content-type': 'application/yaml', 'if-match': '*' },
      body: 'rules: []\n',
    });
    expect(put.status).toBe(401);
    const wrong = await fetch(`${tg.httpUrl}/api/thresholds`, { headers: { authorization: 'Bearer not-the-token-at-all' } });
    expect(wrong.status).toBe(401);
    expect(readFileSync(tg.config.alerts.rulesFile, 'utf8')).toBe(before);
  });

  it('keeps /health, the login form and the page assets open, and sends a person to the login form', async () => {
    expect((await fetch(`${tg.httpUrl}/health`)).status).toBe(200);
    expect((await fetch(`${tg.httpUrl}/ui/style.css`)).status).toBe(200);
    const login = await fetch(`${tg.httpUrl}/login`);
    expect(login.status).toBe(200);
    expect(await login.text()).toContain('name="token"');
    const page = await fetch(`${tg.httpUrl}/`, { redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/login');
  });

  it('accepts the bearer token', async () => {
    const res = await fetch(`${tg.httpUrl}/api/thresholds`, { headers: bearer });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { rules: unknown[] }).rules).toHaveLength(1);
    expect((await fetch(`${tg.httpUrl}/metrics`, { headers: bearer })).status).toBe(200);
  });

  it('logs in with the form: an HttpOnly session cookie that opens the page and the API; a wrong token does not', async () => {
    const bad = await fetch(`${tg.httpUrl}/login`, { method: 'POST', body: new URLSearchParams({ token: 'wrong-wrong-wrong-wrong' }), redirect: 'manual' });
    expect(bad.status).toBe(303);
    expect(bad.headers.get('location')).toBe('/login?failed');
    expect(bad.headers.get('set-cookie')).toBeNull();
    expect(await (await fetch(`${tg.httpUrl}/login?failed`)).text()).toContain('not right');

    const ok = await fetch(`${tg.httpUrl}/login`, { method: 'POST', body: new URLSearchParams({ token: TOKEN }), redirect: 'manual' });
    expect(ok.status).toBe(303);
    const setCookie = ok.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(';')[0]!;

    const page = await fetch(`${tg.httpUrl}/`, { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).toContain('test-gw');
    expect(html).toContain('action="/logout"');
    expect((await fetch(`${tg.httpUrl}/api/live`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${tg.httpUrl}/api/live`, { headers: { cookie: 'gw_session=forged' } })).status).toBe(401);
  });

  it('shows readings in /api/live and the SSE stream, and previews which sensors a rule matches', async () => {
    // Open the stream first, then publish: the reading must arrive as a `sensors` event (no reload).
    const controller = new AbortController();
    const stream = await fetch(`${tg.httpUrl}/api/live/events`, { headers: bearer, signal: controller.signal });
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const reader = stream.body!.getReader();
    let text = '';
    const readUntil = async (needle: string) =>
      waitFor(`SSE text containing ${needle}`, async () => {
        const { value } = await reader.read();
        text += new TextDecoder().decode(value);
        return text.includes(needle) ? text : undefined;
      });
    await readUntil('event: hello');

    const ts = Date.now();
    await publish(device, 'devices/gh-1/telemetry', JSON.stringify({ ts, readings: { temperature: 21.25, humidity: 40 } }));
    await readUntil('21.25');
    // The stream's window was empty: new sensors arrive in a `window` event (then changes as `sensors` deltas).
    const windowEvent = text.split('\n\n').find((e) => e.startsWith('event: window') && e.includes('21.25'))!;
    const data = JSON.parse(windowEvent.split('\ndata: ')[1]!) as {
      window: { total: number; rows: { device: string; sensor: string; value: number; ts: number }[] };
    };
    expect(data.window.rows).toContainEqual(expect.objectContaining({ device: 'gh-1', sensor: 'temperature', value: 21.25, ts }));

    // A reading above the rule fires it: the alert arrives on the stream too.
    await publish(device, 'devices/gh-1/telemetry', JSON.stringify({ ts: ts + 1, readings: { temperature: 31 } }));
    await readUntil('event: alerts');
    expect(text).toMatch(/event: alerts\ndata: \{"now":\d+,"firing":\[\{"rule":"hot"/);
    controller.abort();

    const live = (await (await fetch(`${tg.httpUrl}/api/live`, { headers: bearer })).json()) as {
      sensors: { device: string; sensor: string; value: number }[];
      firing: { rule: string }[];
    };
    expect(live.sensors.map((s) => `${s.device}/${s.sensor}`)).toEqual(['gh-1/humidity', 'gh-1/temperature']);
    expect(live.sensors[1]!.value).toBe(31);
    expect(live.firing.map((a) => a.rule)).toEqual(['hot']);

    const win = async (q: string) =>
      (await (await fetch(`${tg.httpUrl}/api/live/window?${q}`, { headers: bearer })).json()) as { total: number; rows: { sensor: string }[] };
    expect(await win('q=HUMID')).toMatchObject({ total: 1, rows: [{ sensor: 'humidity' }] });
    expect((await win('sort=value&dir=desc&limit=1')).rows.map((r) => r.sensor)).toEqual(['humidity']);
    expect((await fetch(`${tg.httpUrl}/api/live/window`)).status).toBe(401);
    // Browsers ask for it on every load, before any login.
    expect((await fetch(`${tg.httpUrl}/favicon.ico`)).status).toBe(204);

    const preview = async (q: string) =>
      (await (await fetch(`${tg.httpUrl}/api/thresholds/preview?${q}`, { headers: bearer })).json()) as { total: number; matches: unknown[] };
    expect(await preview('device=gh-*&sensor=temp*')).toMatchObject({ total: 1, matches: [{ device: 'gh-1', sensor: 'temperature' }] });
    expect((await preview('device=gh-?')).total).toBe(2);
    expect((await preview('device=other')).total).toBe(0);
    expect((await fetch(`${tg.httpUrl}/api/thresholds/preview?device=`, { headers: bearer })).status).toBe(400);
  });

  it('dry-runs a rules change against the recent windows (PUT ?dryRun=1): how often it would fire, where; nothing written', async () => {
    const before = readFileSync(tg.config.alerts.rulesFile, 'utf8');
    const body =
      'rules:\n  - name: warm\n    match: { device: "gh-*", sensor: temperature }\n    above: 25\n  - name: never\n    match: { device: "gh-*", sensor: "*" }\n    above: 1000\n';
    const run = async () => {
      const res = await fetch(`${tg.httpUrl}/api/thresholds?dryRun=1`, { method: 'PUT', headers: { ...bearer, 'content-type': 'application/yaml' }, body });
      expect(res.status).toBe(200);
      return (await res.json()) as { dryRun: boolean; fires: number; rules: { name: string; fires: number; sensors: { device: string; sensor: string }[] }[] };
    };
    // The 31 published above lands in a window mean once its window closes (1 s windows in the test config).
    const result = await waitFor('a dry run that sees the 31', async () => {
      const r = await run();
      return r.fires > 0 ? r : undefined;
    });
    expect(result.dryRun).toBe(true);
    expect(result.rules[0]).toMatchObject({ name: 'warm', fires: 1, sensors: [{ device: 'gh-1', sensor: 'temperature' }] });
    expect(result.rules[1]).toMatchObject({ name: 'never', fires: 0, sensors: [] });
    const bad = await fetch(`${tg.httpUrl}/api/thresholds?dryRun=1`, {
      method: 'PUT',
      headers: { ...bearer, 'content-type': 'application/yaml' },
      body: 'rules: [{ name: x }]',
    });
    expect(bad.status).toBe(400);
    expect(readFileSync(tg.config.alerts.rulesFile, 'utf8')).toBe(before);
    expect(tg.gw.alerts.rules().map((r) => r.name)).toEqual(['hot']);
  });

  it('keeps the last versions of the rules file in the data folder, to go back to', async () => {
    const put = (body: string) => fetch(`${tg.httpUrl}/api/thresholds`, { method: 'PUT', headers: { ...bearer, 'content-type': 'application/yaml' }, body });
    const versions = async () =>
      ((await (await fetch(`${tg.httpUrl}/api/thresholds/versions`, { headers: bearer })).json()) as { versions: { id: string; etag: string }[] }).versions;
    const original = readFileSync(tg.config.alerts.rulesFile, 'utf8');
    const second = RULES.replace('above: 30', 'above: 31');
    const third = RULES.replace('above: 30', 'above: 32');
    expect((await put(second)).status).toBe(200);
    expect((await put(third)).status).toBe(200); // two saves without a look at the history in between
    const list = await versions();
    expect(list, JSON.stringify(list)).toHaveLength(3);
    const texts = await Promise.all(list.map(async (v) => (await fetch(`${tg.httpUrl}/api/thresholds/versions/${v.id}`, { headers: bearer })).text()));
    expect(texts).toEqual([third, second, original]);
    expect((await fetch(`${tg.httpUrl}/api/thresholds/versions/../../etc`, { headers: bearer })).status).toBe(404);
    expect((await fetch(`${tg.httpUrl}/api/thresholds/versions/1700000000000-00000000000000000000000000000000`, { headers: bearer })).status).toBe(404);
    expect(await (await fetch(`${tg.httpUrl}/metrics`, { headers: bearer })).text()).toMatch(/gateway_admin_rejected_total\{reason="version_not_found"\} 1/);
    expect((await fetch(`${tg.httpUrl}/api/thresholds/versions`)).status).toBe(401);

    // Going back is a validated save, with the same If-Match check as a PUT.
    const restore = (id: string, ifMatch: string) =>
      fetch(`${tg.httpUrl}/api/thresholds/versions/${id}/restore`, { method: 'POST', headers: { ...bearer, 'if-match': ifMatch } });
    expect((await restore(list[2]!.id, list[1]!.etag)).status).toBe(412);
    const back = await restore(list[2]!.id, list[0]!.etag);
    expect(back.status).toBe(200);
    expect(readFileSync(tg.config.alerts.rulesFile, 'utf8')).toBe(original);
    await waitFor('the restored rule running', () =>
      tg.gw.alerts.rules().find((r) => r.name === 'hot' && r.kind === 'threshold' && r.above === 30) ? true : undefined,
    );
    expect((await versions())[0]!.etag).toBe(list[2]!.etag);
  });

  it('ends open live streams on a graceful stop (the stop does not wait for them)', async () => {
    const stream = await fetch(`${tg.httpUrl}/api/live/events`, { headers: bearer });
    const reader = stream.body!.getReader();
    await reader.read(); // hello
    await tg.stop();
    let done = false;
    while (!done) done = (await reader.read()).done;
    expect(done).toBe(true);
  });
});
