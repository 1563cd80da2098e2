import { z } from 'zod';
import { ID_PATTERN } from '../wire/topics.js';
import { MAX_AHEAD_MS, MIN_TS, parseRfc3339 } from './timestamp.js';

/**
 * The wire contract of one telemetry object, as a schema: the specification that the hand-written decoder in
 * decode.ts implements on the hot path. Tests hold the two in agreement (a payload is accepted whole by the decoder
 * exactly when this schema accepts it); docs/wire-contract.md describes the same rules for users.
 */
export function telemetryObjectSchema(receivedAt: number) {
  const ts = z
    .union([
      z.number().int().refine(Number.isSafeInteger),
      z.string().transform((s, ctx) => {
        const t = parseRfc3339(s);
        if (t === undefined) {
          ctx.addIssue({ code: 'custom', message: 'not RFC 3339' });
          return z.NEVER;
        }
        return t;
      }),
    ])
    .refine((t) => t >= MIN_TS && t <= receivedAt + MAX_AHEAD_MS, 'out of range');

  return z.strictObject({
    ts: ts.optional(),
    seq: z.number().int().min(0).refine(Number.isSafeInteger).optional(),
    readings: z.record(z.string().regex(ID_PATTERN), z.number().refine(Number.isFinite)).refine((r) => Object.keys(r).length > 0, 'no readings'),
  });
}
