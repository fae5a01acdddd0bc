import type { ExternalOrder } from '../../connectors/types';

// Currency arithmetic lives in src/common/money.ts (domains use it too); re-exported for the engine.
import { currencyExponent, majorToMinor, minorToMajor } from '../common/money';
export { currencyExponent, majorToMinor, minorToMajor };

const HOST = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** A CRM website as the account domain: "https://www.Acme.com/about" → "acme.com"; null when it is no host name. */
export function domainOf(website: string | null | undefined): string | null {
  if (!website) return null;
  const host = website
    .trim()
    .toLowerCase()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//, '')
    .split(/[/?#:]/)[0]!
    .replace(/^www\./, '');
  return HOST.test(host) ? host : null;
}

/** A problem with one pulled deal that keeps it from becoming an order. */
export interface OrderProblem {
  code: 'UNKNOWN_SKU' | 'MISSING_SKU' | 'INVALID_AMOUNT' | 'INVALID_QUANTITY' | 'INVALID_DATES' | 'NO_LINES' | 'NO_ACCOUNT';
  message: string;
}

/** The order the hub submits for a won deal, before the revision is decided. */
export interface PlannedOrder {
  accountExternalId: string;
  orderDate: string;
  currency: string;
  lines: {
    lineNo: number;
    externalLineId: string;
    sku: string;
    quantity: number;
    unitPrice: string;
    startDate: string;
    endDate: string | null;
  }[];
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Maps a won deal to the order the hub fulfils. Line numbers are stable per source line id
 * (`lineNumbers`, extended with new lines from `nextLineNo`), because a revision matches
 * lines by number and a removed line's number cannot be used again. Problems are returned,
 * not thrown, so the sync run can report every one of them.
 */
export function planOrder(
  deal: ExternalOrder,
  opts: { defaultCurrency: string; lineNumbers: Record<string, number>; nextLineNo: number },
): { order: PlannedOrder; lineNumbers: Record<string, number>; nextLineNo: number } | { problems: OrderProblem[] } {
  const problems: OrderProblem[] = [];
  const currency = (deal.currency ?? opts.defaultCurrency).toUpperCase();
  if (!deal.accountExternalId) problems.push({ code: 'NO_ACCOUNT', message: `deal ${deal.externalId} has no account` });
  if (deal.lines.length === 0) problems.push({ code: 'NO_LINES', message: `deal ${deal.externalId} is won but has no product lines` });
  const lineNumbers = { ...opts.lineNumbers };
  let nextLineNo = opts.nextLineNo;
  const lines: PlannedOrder['lines'] = [];
  for (const l of [...deal.lines].sort((a, b) => (a.externalLineId < b.externalLineId ? -1 : 1))) {
    const where = `line ${l.externalLineId}`;
    if (!l.sku) problems.push({ code: 'MISSING_SKU', message: `${where} has no product code` });
    const unitPrice = majorToMinor(l.unitPrice, currency);
    if (unitPrice === null || unitPrice.startsWith('-')) {
      problems.push({ code: 'INVALID_AMOUNT', message: `${where}: unit price ${l.unitPrice} ${currency} is not an amount in ${currency}'s minor units` });
    }
    const quantity = Number(l.quantity);
    if (!Number.isFinite(quantity) || quantity <= 0) problems.push({ code: 'INVALID_QUANTITY', message: `${where}: quantity ${l.quantity} must be greater than 0` });
    const startDate = l.startDate ?? deal.orderDate;
    if (!ISO_DATE.test(startDate) || (l.endDate && (!ISO_DATE.test(l.endDate) || l.endDate < startDate))) {
      problems.push({ code: 'INVALID_DATES', message: `${where}: service dates ${startDate} to ${l.endDate ?? '(none)'} are not a valid period` });
    }
    let lineNo = lineNumbers[l.externalLineId];
    if (lineNo === undefined) {
      lineNo = nextLineNo++;
      lineNumbers[l.externalLineId] = lineNo;
    }
    lines.push({ lineNo, externalLineId: l.externalLineId, sku: l.sku ?? '', quantity, unitPrice: unitPrice ?? '0', startDate, endDate: l.endDate });
  }
  if (problems.length) return { problems };
  return {
    order: { accountExternalId: deal.accountExternalId!, orderDate: deal.orderDate, currency, lines: lines.sort((a, b) => a.lineNo - b.lineNo) },
    lineNumbers,
    nextLineNo,
  };
}
