import { splitByLargestRemainder } from './money';

describe('splitByLargestRemainder', () => {
  it('splits 100 into thirds that add up', () => {
    expect(splitByLargestRemainder(100n, [1n, 1n, 1n])).toEqual([34n, 33n, 33n]);
  });

  it('always sums to the total, for random inputs', () => {
    for (let n = 0; n < 500; n++) {
      const total = BigInt(Math.floor(Math.random() * 1e9)) * (Math.random() < 0.2 ? -1n : 1n);
      const weights = Array.from({ length: 1 + Math.floor(Math.random() * 6) }, () => BigInt(Math.floor(Math.random() * 1e6)));
      const parts = splitByLargestRemainder(total, weights);
      expect(parts.reduce((a, b) => a + b, 0n)).toBe(total);
      expect(parts).toHaveLength(weights.length);
    }
  });

  it('follows the weights', () => {
    expect(splitByLargestRemainder(1000n, [700n, 200n, 100n])).toEqual([700n, 200n, 100n]);
    expect(splitByLargestRemainder(10n, [1n, 2n])).toEqual([3n, 7n]);
  });
});
