/**
 * Reading the refusal bodies of InfluxDB 2.x and 3.x write answers (1.x's "partial write" text: partial-write.ts).
 * Only what the documentation promises is trusted; anything else reads as "not understood" (undefined), and the
 * writer then refuses the whole request rather than guess.
 */

/**
 * A v2 400: `{"code":"invalid","message":"unable to parse '<line>': <reason>"}`. "The response body contains the
 * first malformed line in the data. All request data was rejected and not written."
 * (https://docs.influxdata.com/influxdb/v2/write-data/troubleshoot/#review-http-status-codes). Returns the index of
 * that line in the request (the first line equal to it), or undefined when it is not quoted or not found.
 */
export function readV2Invalid(message: string, lines: readonly string[]): number[] | undefined {
  const m = /unable to parse '([\s\S]*?)': /.exec(message);
  if (!m) return undefined;
  const i = lines.indexOf(m[1]!);
  return i < 0 ? undefined : [i];
}

export interface V3Partial {
  /** 0-based indexes of the refused lines. */
  readonly lines: number[];
  /** The answer lists at most 100 lines: when it lists 100, more may have been refused after the last one. */
  readonly cut: boolean;
  /** "partial write of line protocol occurred: line 2: <error_message>; ...", for the dead letter. */
  readonly message: string;
}

/** The most refused lines a v3 answer lists ("error details about rejected points, up to 100 points"). */
export const V3_LISTED_MAX = 100;

/**
 * A v3 400 with accept_partial=true (https://docs.influxdata.com/influxdb3/core/write-data/http-api/v3-write-lp/#partial-writes):
 *
 *   {"error": "partial write of line protocol occurred",
 *    "data": [{"original_line": "...", "line_number": 2, "error_message": "invalid column type for column ..."}]}
 *
 * `line_number` is 1-based; `original_line` is not the line as sent (the documented example shows `temp=hi` for
 * the sent `temp="hi"`), so lines are matched by number only. Undefined unless every entry names a line of the
 * request.
 */
export function readV3Partial(text: string, lineCount: number): V3Partial | undefined {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof j !== 'object' || j === null) return undefined;
  const { error, data } = j as { error?: unknown; data?: unknown };
  if (typeof error !== 'string' || !error.startsWith('partial write') || !Array.isArray(data) || data.length === 0) return undefined;
  const lines: number[] = [];
  const reasons: string[] = [];
  for (const d of data as unknown[]) {
    if (typeof d !== 'object' || d === null) return undefined;
    const { line_number: n, error_message: msg } = d as { line_number?: unknown; error_message?: unknown };
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > lineCount) return undefined;
    lines.push(n - 1);
    if (reasons.length < 5) reasons.push(`line ${n}: ${typeof msg === 'string' ? msg : 'refused'}`);
  }
  const more = data.length > reasons.length ? `; and ${data.length - reasons.length} more` : '';
  return { lines: [...new Set(lines)].sort((a, b) => a - b), cut: data.length >= V3_LISTED_MAX, message: `${error}: ${reasons.join('; ')}${more}` };
}
