import { settlesWithin } from './timing';

describe('settlesWithin', () => {
  const after = (ms: number, fail = false) => new Promise((resolve, reject) => setTimeout(() => (fail ? reject(new Error('x')) : resolve('v')), ms));

  it('is true for work that resolves or rejects in time, false for work that does not', async () => {
    expect(await settlesWithin(after(5), 200)).toBe(true);
    expect(await settlesWithin(after(5, true), 200)).toBe(true);
    expect(await settlesWithin(after(60), 20)).toBe(false);
    expect(await settlesWithin(new Promise(() => undefined), 20)).toBe(false);
  });

  it('null waits for the work however long it takes', async () => {
    expect(await settlesWithin(after(60), null)).toBe(true);
  });
});
