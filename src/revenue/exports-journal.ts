/** The four general-ledger roles the journal export posts to (codes come from the config). */
export type GlRole = 'RECEIVABLE' | 'CONTRACT_LIABILITY' | 'CONTRACT_ASSET' | 'REVENUE';

/** One contract event: an invoice (billing) or the recognition of one obligation in one month. */
export interface ContractEvent {
  kind: 'INVOICE' | 'RECOGNITION';
  /** Minor units; negative for a credit note or a revenue reversal. */
  amount: bigint;
}

/** One journal line: exactly one of debit and credit is non-zero. */
export interface Posting {
  role: GlRole;
  debit: bigint;
  credit: bigint;
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max0 = (a: bigint) => (a > 0n ? a : 0n);

/**
 * Posts one event against a contract's net position `position` (billed − recognised so far,
 * in minor units: positive = contract liability, negative = contract asset), as IFRS 15 / ASC
 * 606 present a contract net. Returns balanced lines and the new position.
 *
 * - Billing raises the position: Dr receivable; Cr the contract asset first (billing catching
 *   up with revenue already recognised), then Cr the contract liability for the rest.
 * - Recognition lowers it: Cr revenue; Dr the contract liability first (billed but not yet
 *   recognised), then Dr the contract asset for revenue beyond billing.
 * Negative amounts (credit notes, reversals) run the same rules the other way round.
 */
export function postEvent(position: bigint, event: ContractEvent): { lines: Posting[]; position: bigint } {
  const { kind, amount } = event;
  if (amount === 0n) return { lines: [], position };
  const counter: GlRole = kind === 'INVOICE' ? 'RECEIVABLE' : 'REVENUE';
  // How the event moves the position: billing raises it, recognition lowers it.
  const delta = kind === 'INVOICE' ? amount : -amount;
  const lines: Posting[] = [];
  const add = (role: GlRole, debit: bigint, credit: bigint) => {
    if (debit !== 0n || credit !== 0n) lines.push({ role, debit, credit });
  };
  if (delta > 0n) {
    // Dr the counter account (receivable, or revenue for a reversal); Cr asset, then liability.
    const fromAsset = min(delta, max0(-position));
    add(counter, delta, 0n);
    add('CONTRACT_ASSET', 0n, fromAsset);
    add('CONTRACT_LIABILITY', 0n, delta - fromAsset);
  } else {
    const x = -delta;
    const fromLiability = min(x, max0(position));
    add('CONTRACT_LIABILITY', fromLiability, 0n);
    add('CONTRACT_ASSET', x - fromLiability, 0n);
    add(counter, 0n, x);
  }
  return { lines, position: position + delta };
}
