import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BIG, addPartial, addValue, exactMean, sumPartials } from '../../../gateway/pipeline/exact-sum.js';
import { exactSum, fromUnits, shuffle, toUnits } from '../../support/reference.js';

const sumOf = (xs: readonly number[]) => {
  const p: number[] = [];
  for (const x of xs) addPartial(p, x);
  return sumPartials(p);
};

const meanOf = (xs: readonly number[]) => {
  const p: number[] = [];
  let big: number[] | null = null;
  for (const x of xs) big = addValue(p, big, x);
  return exactMean(p, big, xs.length);
};

/** Finite doubles across the whole range, with the awkward ones well represented. */
const anyDouble = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.double({ noNaN: true, min: -1e6, max: 1e6 }),
  fc.constantFrom(0.1, 0.2, 0.3, -0.1, 1e-310, -5e-324, 2 ** 53, 1 + 2 ** -52, 1e16, -1e16, 1, -1),
);

describe('reference (BigInt) arithmetic', () => {
  it('round-trips every double through exact units', () => {
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => Object.is(fromUnits(toUnits(x)), x === 0 ? 0 : x)));
  });
});

describe('exact summation', () => {
  it('sums to the correctly rounded exact value', () => {
    expect(sumOf(Array(10).fill(0.1))).toBe(1);
    expect(sumOf([1e100, 1, -1e100])).toBe(1);
    expect(sumOf([1, 1e-16, 1e-16])).toBe(1.0000000000000002);
    expect(sumOf([2 ** 53, 1, 1])).toBe(2 ** 53 + 2);
    expect(sumOf([])).toBe(0);
    expect(sumOf([5e-324, 5e-324, -5e-324])).toBe(5e-324);
  });

  it('rounds half to even across partials', () => {
    // 2^53 + 1 is halfway between 2^53 and 2^53 + 2: ties to even gives 2^53; a tiny extra pushes it up.
    expect(sumOf([2 ** 53, 1])).toBe(2 ** 53);
    expect(sumOf([2 ** 53, 1, 1e-100])).toBe(2 ** 53 + 2);
    expect(sumOf([2 ** 53, 1, -1e-100])).toBe(2 ** 53);
  });

  it('equals the BigInt reference for any values, in any order', () => {
    // Raw partials are exact while no intermediate sum overflows; values from BIG up go to the scaled
    // accumulator (addValue), which the exact-mean tests below cover.
    const small = fc.array(
      anyDouble.filter((x) => Math.abs(x) < BIG),
      { maxLength: 40 },
    );
    fc.assert(
      fc.property(small, fc.nat(), (xs, seed) => {
        const expected = exactSum(xs);
        const shuffled = shuffle(xs, seed);
        return Object.is(sumOf(xs), expected) && Object.is(sumOf(shuffled), expected);
      }),
      { numRuns: 500 },
    );
  });
});

describe('exact mean', () => {
  it('is fl(exact sum) / count in the normal range', () => {
    expect(meanOf([0.1, 0.2, 0.3])).toBe(0.6 / 3);
    expect(meanOf([1e100, 1, -1e100, 2])).toBe(0.75);
  });

  it('stays finite and right where the plain sum overflows', () => {
    expect(meanOf([1e308, 1e308])).toBe(1e308);
    expect(meanOf([Number.MAX_VALUE, Number.MAX_VALUE, Number.MAX_VALUE])).toBe(Number.MAX_VALUE);
    expect(meanOf([-Number.MAX_VALUE, -Number.MAX_VALUE])).toBe(-Number.MAX_VALUE);
    expect(meanOf([1.5e308, 1.5e308, -1e308, 1])).toBe(1.5e308 / 2 - 1e308 / 4);
    // Huge values that cancel exactly leave the small ones exact.
    expect(meanOf([Number.MAX_VALUE, -Number.MAX_VALUE, 1, 1e-300])).toBe(exactSum([1, 1e-300]) / 4);
    expect(meanOf([2 ** 1000, 1, -(2 ** 1000)])).toBe(1 / 3);
  });

  it('is exact when huge values are present but the sum fits', () => {
    const huge = fc.double({ noNaN: true, min: -(2 ** 1010), max: 2 ** 1010 });
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            huge,
            anyDouble.filter((x) => Math.abs(x) < 2 ** 1010),
          ),
          { minLength: 1, maxLength: 30 },
        ),
        (xs) => Object.is(meanOf(xs), exactSum(xs) / xs.length),
      ),
      { numRuns: 300 },
    );
  });

  it('is order independent and finite even near the top of the double range', () => {
    const top = fc.double({ noNaN: true, min: 1e307, max: Number.MAX_VALUE }).chain((x) => fc.constantFrom(x, -x));
    fc.assert(
      fc.property(fc.array(fc.oneof(top, anyDouble), { minLength: 1, maxLength: 30 }), fc.nat(), (xs, seed) => {
        const m = meanOf(xs);
        return Number.isFinite(m) && Object.is(meanOf(shuffle(xs, seed)), m);
      }),
      { numRuns: 300 },
    );
  });
});
