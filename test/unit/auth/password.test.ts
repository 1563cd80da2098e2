import { describe, expect, it } from 'vitest';
import { generateSecret, hashSecret, parseHash, verifySecret } from '../../../gateway/auth/password.js';

describe('device secret hashing (scrypt)', () => {
  it('verifies the right secret and refuses a wrong one', async () => {
    const secret = generateSecret();
    const hash = await hashSecret(secret);
    expect(hash).toMatch(/^\$scrypt\$ln=14,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(await verifySecret(secret, hash)).toBe(true);
    expect(await verifySecret(`${secret}x`, hash)).toBe(false);
    expect(await verifySecret('', hash)).toBe(false);
  });

  it('salts: the same secret hashes differently each time, and both verify', async () => {
    const a = await hashSecret('same secret', { ln: 10, r: 8, p: 1 });
    const b = await hashSecret('same secret', { ln: 10, r: 8, p: 1 });
    expect(a).not.toBe(b);
    expect(await verifySecret('same secret', a)).toBe(true);
    expect(await verifySecret('same secret', b)).toBe(true);
  });

  it('reads the cost from the hash string, so hashes made with other parameters still verify', async () => {
    const cheap = await hashSecret('s3cret', { ln: 10, r: 4, p: 2 });
    expect(cheap.startsWith('$scrypt$ln=10,r=4,p=2$')).toBe(true);
    expect(await verifySecret('s3cret', cheap)).toBe(true);
  });

  it('treats unicode secrets by their NFC form', async () => {
    const hash = await hashSecret('caf\u00e9', { ln: 10, r: 8, p: 1 });
    expect(await verifySecret('cafe\u0301', hash)).toBe(true);
  });

  it('refuses malformed or out-of-bounds hashes instead of verifying or allocating', async () => {
    expect(parseHash('plain')).toMatch(/not a scrypt hash/);
    expect(parseHash('$scrypt$ln=30,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toMatch(/ln=30 outside/);
    expect(await verifySecret('x', '$scrypt$ln=30,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toBe(false);
    expect(await verifySecret('x', '')).toBe(false);
  });

  it('generates 256-bit base64url secrets', () => {
    const s = generateSecret();
    expect(s).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(s, 'base64url')).toHaveLength(32);
    expect(generateSecret()).not.toBe(s);
  });
});
