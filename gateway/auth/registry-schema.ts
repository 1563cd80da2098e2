import { z } from 'zod';
import { ID_PATTERN } from '../wire/topics.js';
import { parseHash } from './password.js';
import { ROLES } from './roles.js';

/**
 * The device registry file (auth.devicesFile):
 *
 *   devices:
 *     - id: gh-1
 *       passwordHash: $scrypt$ln=14,r=8,p=1$...$...
 *       tags: { site: north, room: greenhouse-2 }
 *     - id: dashboard
 *       role: reader            # roles.ts; absent: device
 *       passwordHash: $scrypt$...
 *
 * `passwordHash` may be absent for a device that authenticates only with a TLS client certificate (CN = id).
 * Tags become InfluxDB tags on the device's points, so their keys must not clash with the tags and fields the
 * gateway writes itself, nor with InfluxQL's `time`.
 */

export const RESERVED_TAG_KEYS: ReadonlySet<string> = new Set([
  'device',
  'sensor',
  'gateway',
  'time',
  'mean',
  'min',
  'max',
  'first',
  'last',
  'count',
  'revision',
]);

export const TAG_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
/** No control characters, no backslash (InfluxDB 1.x line protocol cannot end a tag value with one), no edge spaces. */
// Control characters are what the pattern refuses (InfluxDB line protocol has no escape for them).
// eslint-disable-next-line no-control-regex
export const TAG_VALUE_PATTERN = /^(?! )[^\x00-\x1f\x7f\\]{1,256}(?<! )$/;

/** Checked per key (not as a record key schema) so the error names the key: `devices[0].tags.device: ...`. */
function checkTagKey(key: string): string | undefined {
  if (!TAG_KEY_PATTERN.test(key)) return `tag key must match ${TAG_KEY_PATTERN.source}`;
  if (RESERVED_TAG_KEYS.has(key)) return `tag key is reserved: the gateway writes ${[...RESERVED_TAG_KEYS].join(', ')} itself`;
  return undefined;
}

const tagValue = z
  .union([z.string(), z.number(), z.boolean()])
  .transform((v) => String(v))
  .pipe(z.string().regex(TAG_VALUE_PATTERN, 'tag value must be 1-256 characters, without control characters, backslashes or edge spaces'));

const passwordHash = z.string().superRefine((s, ctx) => {
  const parsed = parseHash(s);
  if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
});

export const deviceEntrySchema = z.strictObject({
  id: z.string().regex(ID_PATTERN, `must match ${ID_PATTERN.source}`),
  role: z.enum(ROLES).optional(),
  passwordHash: passwordHash.optional(),
  tags: z
    .record(z.string(), tagValue)
    .superRefine((tags, ctx) => {
      for (const key of Object.keys(tags)) {
        const problem = checkTagKey(key);
        if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
      }
    })
    .optional(),
});

export const devicesFileSchema = z.strictObject({ devices: z.array(deviceEntrySchema).nullable().default([]) }).superRefine((file, ctx) => {
  const first = new Map<string, number>();
  (file.devices ?? []).forEach((d, i) => {
    const prev = first.get(d.id);
    if (prev === undefined) first.set(d.id, i);
    else ctx.addIssue({ code: 'custom', path: ['devices', i, 'id'], message: `duplicate id ${JSON.stringify(d.id)} (first at devices[${prev}])` });
  });
});

export type DeviceEntry = z.output<typeof deviceEntrySchema>;
