import { postEvent, type ContractEvent, type Posting } from './exports-journal';

const inv = (amount: bigint): ContractEvent => ({ kind: 'INVOICE', amount });
const rec = (amount: bigint): ContractEvent => ({ kind: 'RECOGNITION', amount });
const fmt = (lines: Posting[]) => lines.map((l) => `${l.role} ${l.debit} ${l.credit}`);

function run(events: ContractEvent[]) {
  let position = 0n;
  const all: string[][] = [];
  for (const e of events) {
    const r = postEvent(position, e);
    // Every event balances on its own.
    expect(r.lines.reduce((s, l) => s + l.debit - l.credit, 0n)).toBe(0n);
    position = r.position;
    all.push(fmt(r.lines));
  }
  return { all, position };
}

describe('postEvent (journal postings against a contract position)', () => {
  it('billing ahead of revenue goes to the contract liability, released by recognition', () => {
    const { all, position } = run([inv(1200n), rec(100n)]);
    expect(all).toEqual([
      ['RECEIVABLE 1200 0', 'CONTRACT_LIABILITY 0 1200'],
      ['CONTRACT_LIABILITY 100 0', 'REVENUE 0 100'],
    ]);
    expect(position).toBe(1100n);
  });

  it('revenue ahead of billing builds a contract asset, cleared first when the invoice comes', () => {
    const { all, position } = run([inv(10n), rec(30n), inv(50n)]);
    expect(all).toEqual([
      ['RECEIVABLE 10 0', 'CONTRACT_LIABILITY 0 10'],
      ['CONTRACT_LIABILITY 10 0', 'CONTRACT_ASSET 20 0', 'REVENUE 0 30'],
      ['RECEIVABLE 50 0', 'CONTRACT_ASSET 0 20', 'CONTRACT_LIABILITY 0 30'],
    ]);
    expect(position).toBe(30n);
  });

  it('reversals and credit notes run the other way: asset first, then liability', () => {
    const { all, position } = run([rec(40n), rec(-15n), inv(-5n), inv(30n), inv(-20n)]);
    expect(all).toEqual([
      ['CONTRACT_ASSET 40 0', 'REVENUE 0 40'],
      ['REVENUE 15 0', 'CONTRACT_ASSET 0 15'],
      ['CONTRACT_ASSET 5 0', 'RECEIVABLE 0 5'],
      ['RECEIVABLE 30 0', 'CONTRACT_ASSET 0 30'],
      ['CONTRACT_ASSET 20 0', 'RECEIVABLE 0 20'],
    ]);
    expect(position).toBe(-20n);
  });

  it('a zero amount posts nothing', () => {
    expect(postEvent(5n, rec(0n))).toEqual({ lines: [], position: 5n });
  });
});
