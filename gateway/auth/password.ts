import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Device secrets are stored only as salted scrypt hashes in a PHC-style string that carries its own parameters:
 *
 *   $scrypt$ln=14,r=8,p=1$<salt, base64 without padding>$<hash, base64 without padding>
 *
 * so the cost can be raised later without invalidating stored hashes (old ones verify with their own parameters).
 * Secrets are 256-bit random strings made by generateSecret(), so the hash cost guards against a stolen registry
 * file, not against weak passwords; the default (N = 2^14, 16 MiB, tens of ms) keeps a reconnect storm of a few
 * hundred devices within seconds on the libuv thread pool.
 */

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  readonly ln: number;
  readonly r: number;
  readonly p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { ln: 14, r: 8, p: 1 };

/** Bounds accepted when verifying, so a tampered hash string cannot make the gateway allocate gigabytes. */
export const SCRYPT_BOUNDS = { ln: [10, 20], r: [1, 32], p: [1, 16] } as const;

const SALT_BYTES = 16;
const KEY_BYTES = 32;
const HASH_RE = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{16,})$/;

export interface ParsedHash {
  readonly params: ScryptParams;
  readonly salt: Buffer;
  readonly key: Buffer;
}

/** Parses a stored hash; returns a message for the registry schema when the string is unusable. */
export function parseHash(encoded: string): ParsedHash | string {
  const m = HASH_RE.exec(encoded);
  if (!m) return 'not a scrypt hash ($scrypt$ln=..,r=..,p=..$salt$hash); create it with `npm run devices -- add`';
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  for (const k of ['ln', 'r', 'p'] as const) {
    const [lo, hi] = SCRYPT_BOUNDS[k];
    if (params[k] < lo || params[k] > hi) return `scrypt parameter ${k}=${params[k]} outside ${lo}..${hi}`;
  }
  const key = Buffer.from(m[5]!, 'base64');
  if (key.length < 16) return 'scrypt hash too short';
  return { params, salt: Buffer.from(m[4]!, 'base64'), key };
}

function derive(secret: string, salt: Buffer, keyLen: number, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.ln;
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + 1024 * 1024 };
  // The async form runs on the libuv thread pool: the event loop keeps serving other clients meanwhile.
  return new Promise((resolve, reject) => scrypt(secret.normalize('NFC'), salt, keyLen, options, (err, key) => (err ? reject(err) : resolve(key))));
}

const b64 = (buf: Buffer) => buf.toString('base64').replace(/=+$/, '');

export async function hashSecret(secret: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(secret, salt, KEY_BYTES, params);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(key)}`;
}

/**
 * True when `secret` matches `encoded`. Compares in constant time; a malformed hash is simply false (the schema
 * rejects those when the registry is loaded, so this is a second line of defence).
 */
export async function verifySecret(secret: string, encoded: string): Promise<boolean> {
  const parsed = parseHash(encoded);
  if (typeof parsed === 'string') return false;
  const key = await derive(secret, parsed.salt, parsed.key.length, parsed.params);
  return timingSafeEqual(key, parsed.key);
}

/** A hash that matches no secret, verified for unknown usernames so a refusal takes as long as a wrong secret. */
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashSecret(randomBytes(32).toString('base64url'));
  return decoy;
}

/** 32 random bytes, base64url: 43 characters, safe in YAML, JSON, shells and MQTT passwords. */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}
