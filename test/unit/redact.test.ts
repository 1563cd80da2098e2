import { describe, expect, it } from 'vitest';
import { redactSecrets, redactUrl } from '../../gateway/redact.js';

describe('redactUrl', () => {
  it('masks the password of the userinfo and keeps the user', () => {
    expect(redactUrl('http://user:s3cret@influx.local:8086')).toBe('http://user:***@influx.local:8086/');
    expect(redactUrl('https://:pw@h/db')).toBe('https://:***@h/db');
  });

  it('masks credential query parameters (InfluxDB u/p keeps u) and leaves the rest', () => {
    expect(redactUrl('http://h:8086/?u=admin&p=pw&db=iot')).toBe('http://h:8086/?u=admin&p=***&db=iot');
    expect(redactUrl('http://h/?token=abc&x=1')).toBe('http://h/?token=***&x=1');
  });

  it('returns URLs without secrets exactly as written', () => {
    for (const u of ['http://127.0.0.1:8086', 'http://user@h:1', 'http://h/?db=iot']) expect(redactUrl(u)).toBe(u);
  });
});

describe('redactSecrets', () => {
  it('masks URLs inside free text', () => {
    expect(redactSecrets('connect to http://u:pw@10.0.0.1:8086/write?db=iot&p=pw failed')).toBe(
      'connect to http://u:***@10.0.0.1:8086/write?db=iot&p=*** failed',
    );
    expect(redactSecrets('nothing secret: a=b, see http://h:80/x')).toBe('nothing secret: a=b, see http://h:80/x');
  });
});

describe('redactSecrets on hostile text', () => {
  it('handles long runs of the characters its patterns start on (each repetition is bounded: no quadratic scan)', () => {
    for (const text of ['?'.repeat(50_000), '?a='.repeat(20_000), 'a://'.repeat(20_000)]) expect(redactSecrets(text)).toBe(text);
    expect(redactSecrets('?p='.repeat(3))).toBe('?p=***'.repeat(3));
    expect(redactSecrets('a.'.repeat(10) + '://x:y@h')).toBe('a.'.repeat(10) + '://x:***@h');
  });
});
