import { describe, expect, it } from 'vitest';
import { readV2Invalid, readV3Partial } from '../../../gateway/sink/refusal-bodies.js';

/** What the 2.x and 3.x refusal bodies are trusted to say, and what is read as "not understood". */
describe('v3 partial-write body', () => {
  // The example of https://docs.influxdata.com/influxdb3/core/write-data/http-api/v3-write-lp/#partial-writes
  const DOC = `{
    "error": "partial write of line protocol occurred",
    "data": [{ "original_line": "home,room=Sunroom temp=hi 1735549200", "line_number": 2,
               "error_message": "invalid column type for column 'temp', expected iox::column_type::field::float, got iox::column_type::field::string" }]
  }`;

  it('reads the documented example: 1-based line numbers to 0-based indexes, the reasons into the message', () => {
    expect(readV3Partial(DOC, 2)).toEqual({
      lines: [1],
      cut: false,
      message:
        "partial write of line protocol occurred: line 2: invalid column type for column 'temp', expected iox::column_type::field::float, got iox::column_type::field::string",
    });
  });

  it('marks a list of 100 as possibly cut, and names at most five reasons', () => {
    const data = Array.from({ length: 100 }, (_, i) => ({ line_number: i + 1, error_message: 'e' }));
    const p = readV3Partial(JSON.stringify({ error: 'partial write of line protocol occurred', data }), 150)!;
    expect(p.cut).toBe(true);
    expect(p.lines).toHaveLength(100);
    expect(p.message).toMatch(/line 5: e; and 95 more$/);
  });

  it.each([
    ['not JSON', 'oops'],
    ['accept_partial=false (nothing stored)', '{"error":"parsing failed for write_lp endpoint","data":{"line_number":2,"error_message":"x"}}'],
    ['a line number beyond the request', '{"error":"partial write of line protocol occurred","data":[{"line_number":3,"error_message":"x"}]}'],
    ['line number 0', '{"error":"partial write of line protocol occurred","data":[{"line_number":0,"error_message":"x"}]}'],
    ['no entries', '{"error":"partial write of line protocol occurred","data":[]}'],
  ])('%s: not understood', (_, body) => {
    expect(readV3Partial(body, 2)).toBeUndefined();
  });
});

describe('v2 400 body', () => {
  it('finds the quoted first malformed line in the request, or nothing', () => {
    const lines = ['m v=1 1', 'm,d=a broken', 'm v=2 2'];
    expect(readV2Invalid("unable to parse 'm,d=a broken': invalid field format", lines)).toEqual([1]);
    expect(readV2Invalid("unable to parse 'elsewhere': invalid field format", lines)).toBeUndefined();
    expect(readV2Invalid('precision not supported', lines)).toBeUndefined();
  });
});
