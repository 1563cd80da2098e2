import { describe, expect, it } from 'vitest';
import { influxString } from '../../../gateway/admin/alerts-influx-history.js';

describe('influxString', () => {
  it('quotes a rule name as an InfluxQL string literal that cannot end early', () => {
    expect(influxString('hot')).toBe("'hot'");
    expect(influxString("it's")).toBe("'it\\'s'");
    expect(influxString("x' OR 1=1 --")).toBe("'x\\' OR 1=1 --'");
    expect(influxString('a\\')).toBe("'a\\\\'");
  });
});
