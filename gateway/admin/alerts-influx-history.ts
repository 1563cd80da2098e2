/**
 * A rule's recent state changes as stored in InfluxDB's `alerts` measurement (alerts/publisher.ts: one point
 * per change, tags device, gateway, rule, sensor, severity; fields state, value, threshold): the history that
 * survives restarts, for the operator page's alerts view. InfluxDB 1.x `/query` (InfluxQL), JSON, epoch ms.
 */
export interface InfluxTarget {
  readonly url: string;
  readonly database: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly timeoutMs: number;
}

export interface StoredAlertChange {
  readonly time: number;
  readonly device: string;
  readonly sensor: string;
  readonly severity: string;
  readonly state: string;
  readonly value: number | null;
  readonly threshold: number | null;
}

/** An InfluxQL string literal: single quotes, with `\` and `'` escaped. */
export function influxString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export async function queryAlertHistory(target: InfluxTarget, gatewayId: string, rule: string, limit: number, days = 7): Promise<StoredAlertChange[]> {
  const q =
    `SELECT "state", "value", "threshold", "device", "sensor", "severity" FROM "alerts" ` +
    `WHERE "rule" = ${influxString(rule)} AND "gateway" = ${influxString(gatewayId)} AND time > now() - ${days}d ORDER BY time DESC LIMIT ${limit}`;
  const url = `${target.url.replace(/\/$/, '')}/query?${new URLSearchParams({ db: target.database, q, epoch: 'ms' })}`;
  const headers: Record<string, string> = {};
  if (target.username !== undefined) headers['authorization'] = `Basic ${Buffer.from(`${target.username}:${target.password ?? ''}`).toString('base64')}`;
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(target.timeoutMs) });
  const body = (await res.json().catch(() => ({}))) as {
    error?: string;
    results?: { error?: string; series?: { columns: string[]; values: unknown[][] }[] }[];
  };
  const error = body.error ?? body.results?.[0]?.error;
  if (!res.ok || error !== undefined) throw new Error(error ?? `HTTP ${res.status}`);
  const series = body.results?.[0]?.series?.[0];
  if (series === undefined) return [];
  const col = (name: string) => series.columns.indexOf(name);
  const [t, st, v, th, d, s, sev] = ['time', 'state', 'value', 'threshold', 'device', 'sensor', 'severity'].map(col) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const num = (x: unknown) => (typeof x === 'number' ? x : null);
  return series.values.map((row) => ({
    time: Number(row[t]),
    device: String(row[d] ?? ''),
    sensor: String(row[s] ?? ''),
    severity: String(row[sev] ?? ''),
    state: String(row[st] ?? ''),
    value: num(row[v]),
    threshold: num(row[th]),
  }));
}
