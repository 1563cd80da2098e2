import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedWrite {
  /** `measurement,tags` + ` ` + timestamp: one window of one series. */
  readonly key: string;
  readonly revision: string;
  /** The field set without `revision`. */
  readonly values: string;
}

export interface InfluxRecorder {
  readonly url: string;
  /** Every line of every /write body forwarded so far. */
  writes(): RecordedWrite[];
  close(): Promise<void>;
}

/**
 * A pass-through HTTP proxy in front of InfluxDB that keeps every written line: InfluxDB overwrites a point of the
 * same series and time, so only the proxy sees whether a window was ever written twice with different values.
 */
export async function influxRecorder(target: string): Promise<InfluxRecorder> {
  const to = new URL(target);
  const lines: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.url?.startsWith('/write')) for (const l of body.toString().split('\n')) if (l !== '') lines.push(l);
      const up = request({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    writes: () =>
      lines.map((l) => {
        // Our lines carry no spaces in tags or fields (ids match ID_PATTERN; fields are numbers).
        const [series, fields, time] = l.split(' ') as [string, string, string];
        const kv = fields.split(',');
        return {
          key: `${series} ${time}`,
          revision: kv.find((f) => f.startsWith('revision='))?.slice(9) ?? '',
          values: kv.filter((f) => !f.startsWith('revision=')).join(','),
        };
      }),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Windows written more than once under the same revision with different values ([] when none). */
export function conflictingWrites(writes: readonly RecordedWrite[]): string[] {
  const seen = new Map<string, string>();
  const out: string[] = [];
  for (const w of writes) {
    const k = `${w.key} rev ${w.revision}`;
    const before = seen.get(k);
    if (before === undefined) seen.set(k, w.values);
    else if (before !== w.values) out.push(`${k}: ${before} then ${w.values}`);
  }
  return out;
}
