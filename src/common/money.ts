import { Field, InputType, ObjectType } from 'type-graphql';
import { Matches } from 'class-validator';
import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

const MINOR = /^-?\d{1,18}$/;

function toMinor(value: unknown): string {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'string' && MINOR.test(value)) return BigInt(value).toString();
  throw new GraphQLError(`MinorAmount must be an integer number of minor units (e.g. 12999 for 129.99), got ${JSON.stringify(value)}`);
}

/**
 * An amount in integer minor units (cents). Accepts an Int or a string of digits (for
 * amounts beyond 2^53); always returned as a string, so no client loses precision.
 */
export const MinorAmountScalar = new GraphQLScalarType({
  name: 'MinorAmount',
  description: 'An amount in integer minor units of its currency (12999 = 129.99 USD). Input: Int or digit string; output: string.',
  serialize: (v) => toMinor(typeof v === 'bigint' ? v.toString() : v),
  parseValue: toMinor,
  parseLiteral(ast) {
    if (ast.kind === Kind.INT || ast.kind === Kind.STRING) return toMinor(ast.kind === Kind.INT ? ast.value : ast.value);
    throw new GraphQLError('MinorAmount must be an Int or a string of digits');
  },
});

@ObjectType({ description: 'Money: an integer number of minor units and an ISO 4217 currency.' })
export class Money {
  @Field(() => String, { description: 'Amount in minor units (cents), as a string so it never loses precision.' })
  amountMinor: string;

  @Field({ description: 'ISO 4217 currency code, e.g. USD.' })
  currency: string;
}

@InputType({ description: 'Money as input: integer minor units and an ISO 4217 currency.' })
export class MoneyInput {
  @Field(() => MinorAmountScalar, { description: 'Amount in minor units (cents): an Int or a string of digits.' })
  amountMinor: string;

  @Field({ description: 'ISO 4217 currency code (three capital letters), e.g. USD.' })
  @Matches(/^[A-Z]{3}$/, { message: 'must be an ISO 4217 code of three capital letters' })
  currency: string;
}

export function money(amountMinor: string | bigint | number | null | undefined, currency: string | null | undefined): Money | null {
  if (amountMinor === null || amountMinor === undefined || !currency) return null;
  return { amountMinor: BigInt(amountMinor).toString(), currency };
}

/**
 * Splits `total` into parts proportional to `weights` (largest remainder): the parts are
 * integers and always add up to `total` exactly. Ties go to the earlier part.
 */
export function splitByLargestRemainder(total: bigint, weights: bigint[]): bigint[] {
  if (weights.length === 0) return [];
  const sum = weights.reduce((a, b) => a + b, 0n);
  if (sum === 0n) {
    const parts = weights.map(() => 0n);
    parts[0] = total;
    return parts;
  }
  const sign = total < 0n ? -1n : 1n;
  const abs = total * sign;
  const floors = weights.map((w) => (abs * w) / sum);
  const remainders = weights.map((w, i) => ({ i, r: (abs * w) % sum }));
  let left = abs - floors.reduce((a, b) => a + b, 0n);
  remainders.sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
  for (const { i } of remainders) {
    if (left === 0n) break;
    floors[i] = floors[i]! + 1n;
    left -= 1n;
  }
  return floors.map((f) => f * sign);
}

/** Digits after the decimal point of a currency's minor unit (USD 2, JPY 0, BHD 3). */
export function currencyExponent(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

const DECIMAL = /^-?\d+(\.\d+)?$/;

/**
 * "1200.5" USD → "120050". Exact (string arithmetic, no floats); null when the amount has
 * more decimals than the currency's minor unit (1.005 USD), so a caller reports it instead
 * of rounding money silently. Trailing zeros beyond the exponent are fine ("12.500").
 */
export function majorToMinor(amount: string, currency: string): string | null {
  const text = amount.trim();
  if (!DECIMAL.test(text)) return null;
  const exp = currencyExponent(currency);
  const negative = text.startsWith('-');
  const [int, frac = ''] = text.replace('-', '').split('.');
  const trimmed = frac.replace(/0+$/, '');
  if (trimmed.length > exp) return null;
  const minor = BigInt(int! + trimmed.padEnd(exp, '0'));
  return (negative ? -minor : minor).toString();
}

/** "120050" minor USD → "1200.50" (major units, fixed to the currency's exponent). */
export function minorToMajor(minor: string | bigint, currency: string): string {
  const exp = currencyExponent(currency);
  const v = BigInt(minor);
  const negative = v < 0n;
  const digits = (negative ? -v : v).toString().padStart(exp + 1, '0');
  const major = exp === 0 ? digits : `${digits.slice(0, -exp)}.${digits.slice(-exp)}`;
  return negative ? `-${major}` : major;
}

/**
 * unit price (minor units) × quantity (a decimal string, up to 4 decimals counted) × `num` ÷
 * `den`, in minor units rounded half up — fixed point, so no float touches money. A year of
 * a term: `num` 365, `den` the term's days; a share of a price: `num` the percent × 10,000,
 * `den` 100 × 10,000.
 */
export function scaledAmountMinor(unitPriceMinor: string | bigint, quantity: string, num: bigint, den: bigint): bigint {
  const [qi, qf = ''] = quantity.split('.');
  const q4 = BigInt(qi! + qf.padEnd(4, '0').slice(0, 4));
  const n = BigInt(unitPriceMinor) * q4 * num;
  const d = den * 10_000n;
  return (n * 2n + d) / (2n * d);
}
