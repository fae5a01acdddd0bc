export interface Money {
  amountMinor: string;
  currency: string;
}

const digits = (currency: string): number => new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;

export function toMajor(m: Money): number {
  return Number(m.amountMinor) / 10 ** digits(m.currency);
}

export function money(m: Money | null | undefined): string {
  if (!m) return '–';
  return new Intl.NumberFormat('en', { style: 'currency', currency: m.currency, maximumFractionDigits: 0 }).format(toMajor(m));
}

export function moneyList(list: Money[] | null | undefined): string {
  return list && list.length ? list.map(money).join(' + ') : '–';
}

export function percent(v: number | null | undefined): string {
  return v === null || v === undefined ? '–' : `${v.toFixed(1)} %`;
}

export function date(v: string | null | undefined): string {
  return v ? v.slice(0, 10) : '–';
}

export function dateTime(v: string | null | undefined): string {
  return v ? v.replace('T', ' ').slice(0, 16) + ' UTC' : '–';
}
