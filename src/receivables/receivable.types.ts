import { ArgsType, Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { IsOptional, Matches } from 'class-validator';
import { Money } from '../common/money';
import { ConnectionType, PageArgs } from '../common/pagination';

/** The kinds of receivable document (connectors/types.ts `ReceivableKind`). */
export enum ReceivableKind {
  INVOICE = 'INVOICE',
  CREDIT_MEMO = 'CREDIT_MEMO',
  PAYMENT = 'PAYMENT',
}

registerEnumType(ReceivableKind, {
  name: 'ReceivableKind',
  description: 'What a receivable document is.',
  valuesConfig: {
    INVOICE: { description: 'Raises what the customer owes; its open amount is what remains unpaid.' },
    CREDIT_MEMO: { description: 'Lowers what the customer owes; its open amount is the part not yet applied to an invoice.' },
    PAYMENT: { description: 'Money received; its open amount is the part not yet applied to an invoice.' },
  },
});

@ObjectType({ description: 'An invoice, credit memo or payment of an account, as the ERP (or a CSV file) holds it.' })
export class Receivable {
  @Field(() => ID, { description: 'The hub id of the document.' })
  id: string;

  @Field(() => ID, { description: 'The account it belongs to.' })
  accountId: string;

  @Field(() => ID, { description: 'The sync connection it came from.' })
  connectionId: string;

  @Field(() => ReceivableKind, { description: 'INVOICE, CREDIT_MEMO or PAYMENT.' })
  kind: ReceivableKind;

  @Field({ description: "The source's id of the document." })
  externalId: string;

  @Field(() => String, { nullable: true, description: 'The number people quote, e.g. INV-1042.' })
  number: string | null;

  @Field({ description: 'The document date (YYYY-MM-DD).' })
  date: string;

  @Field(() => String, { nullable: true, description: 'Invoices: when payment is due (YYYY-MM-DD).' })
  dueDate: string | null;

  @Field(() => Money, { description: 'The document total.' })
  amount: Money;

  @Field(() => Money, { description: 'What is still open (invoice) or unapplied (payment, credit memo).' })
  openAmount: Money;

  @Field(() => String, { nullable: true, description: "The source's status text (e.g. `Open`, `Paid In Full`)." })
  status: string | null;

  @Field({ description: 'When the source last changed it.' })
  modifiedAt: Date;

  /** Keyset position (not exposed). */
  createdAt: Date;
}

@ObjectType({ description: "An account's receivables in one currency: what it owes, what is overdue, what it paid last." })
export class ReceivablesSummary {
  @Field({ description: 'ISO 4217 currency of every amount below.' })
  currency: string;

  @Field(() => Money, { description: 'Open invoices minus unapplied credit memos and payments (negative when the customer is in credit).' })
  openBalance: Money;

  @Field(() => Money, { description: 'The open amounts of invoices.' })
  openInvoices: Money;

  @Field(() => Money, { description: 'The unapplied amounts of credit memos and payments.' })
  unapplied: Money;

  @Field(() => Money, { description: 'The open amounts of invoices whose due date is before the day of the summary.' })
  overdue: Money;

  @Field(() => Int, { description: 'Days past due of the oldest overdue invoice (0 when none is overdue).' })
  maxOverdueDays: number;

  @Field(() => Float, { description: 'Days past due of the overdue invoices, weighted by their open amounts, one decimal (0 when none).' })
  weightedOverdueDays: number;

  @Field(() => String, { nullable: true, description: 'The date of the latest payment (YYYY-MM-DD), null when none.' })
  lastPaymentDate: string | null;

  @Field(() => Money, { nullable: true, description: 'The total of the payments on that date, null when none.' })
  lastPayment: Money | null;

  @Field(() => Int, { description: 'Invoices (open or paid).' })
  invoiceCount: number;

  @Field(() => Int, { description: 'Invoices with an open amount.' })
  openInvoiceCount: number;

  @Field(() => Int, { description: 'Open invoices past their due date.' })
  overdueInvoiceCount: number;

  @Field(() => Int, { description: 'Credit memos.' })
  creditMemoCount: number;

  @Field(() => Int, { description: 'Payments.' })
  paymentCount: number;

  @Field({ description: 'The day the summary is as of (YYYY-MM-DD): overdue means a due date before it.' })
  asOf: string;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

@ArgsType()
export class ReceivablesSummaryArgs {
  @Field(() => String, { nullable: true, description: "The day to judge overdue by (YYYY-MM-DD); default today in the hub's time zone." })
  @IsOptional()
  @Matches(DATE, { message: 'asOf must be a date (YYYY-MM-DD)' })
  asOf?: string | null;
}

@ArgsType()
export class ReceivableListArgs extends PageArgs {
  @Field(() => ReceivableKind, { nullable: true, description: 'Only documents of this kind.' })
  @IsOptional()
  kind?: ReceivableKind | null;

  @Field({ defaultValue: false, description: 'Only documents with an open (unapplied) amount.' })
  openOnly: boolean = false;
}

export const ReceivableConnection = ConnectionType(Receivable);
