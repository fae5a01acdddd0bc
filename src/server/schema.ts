import path from 'node:path';
import { validate, type ValidationError } from 'class-validator';
import { buildSchema, getMetadataStorage, UseMiddleware, type MiddlewareFn, type NonEmptyArray } from 'type-graphql';
import { printSchema, lexicographicSortSchema, type GraphQLSchema } from 'graphql';
import { authChecker } from '../auth/auth-checker';
import { ApiKeyResolver } from '../auth/api-key.resolver';
import { AuditResolver } from '../audit/audit.resolver';
import { CatalogResolvers } from '../catalog/catalog.resolvers';
import { AccountResolvers } from '../accounts/account.resolvers';
import { CertificateResolver } from '../certificates/certificate.resolver';
import { OrderResolver } from '../orders/order.resolver';
import { EntitlementResolver } from '../entitlements/entitlement.resolver';
import { LicensingResolvers } from '../licensing/licensing.resolvers';
import { UsageResolvers } from '../usage/usage.resolvers';
import { AnalyticsResolvers } from '../analytics/analytics.resolvers';
import { InsightsResolvers } from '../analytics/insights.resolvers';
import { ComplianceResolvers } from '../compliance/compliance.resolvers';
import { WebhookResolvers } from '../webhooks/webhook.resolvers';
import { RevenueResolvers } from '../revenue/revenue.resolvers';
import { SyncResolvers } from '../sync/sync.resolvers';
import { HealthResolvers } from '../health/health.resolvers';
import { ReceivableResolvers } from '../receivables/receivable.resolvers';
import { Customer360Resolvers } from '../customer360/customer360.resolvers';
import { IdentityResolvers } from '../identity/identity.resolvers';
import { ChurnResolvers } from '../churn/churn.resolvers';
import { ModelFitResolvers } from '../modelfit/modelfit.resolvers';
import { DeliveryResolvers } from '../delivery/delivery.resolvers';
import { SupportResolvers } from '../support/support.resolvers';
import { badInput, type FieldError } from '../common/errors';
import { unstorablePath } from '../common/text';
import type { GraphQLContext } from './graphql-context';
import { HealthResolver } from './health.resolver';

export const resolvers: NonEmptyArray<Function> = [
  HealthResolver,
  ApiKeyResolver,
  AuditResolver,
  ...CatalogResolvers,
  ...AccountResolvers,
  ...LicensingResolvers,
  ...UsageResolvers,
  ...AnalyticsResolvers,
  ...InsightsResolvers,
  ...ComplianceResolvers,
  ...WebhookResolvers,
  ...RevenueResolvers,
  ...SyncResolvers,
  ...HealthResolvers,
  ...ReceivableResolvers,
  ...Customer360Resolvers,
  ...IdentityResolvers,
  ...ChurnResolvers,
  ...ModelFitResolvers,
  ...DeliveryResolvers,
  ...SupportResolvers,
  CertificateResolver,
  OrderResolver,
  EntitlementResolver,
];

export const SCHEMA_FILE = path.resolve(__dirname, '../../schema.graphql');

function flatten(errors: ValidationError[], prefix: string): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    const p = prefix ? `${prefix}.${e.property}` : e.property;
    for (const message of Object.values(e.constraints ?? {})) out.push({ path: p, message });
    if (e.children?.length) out.push(...flatten(e.children, p));
  }
  return out;
}

/**
 * type-graphql hands the validator a converted copy of the argument, not its name: find the
 * argument it came from (same keys), so error paths read `input.lines.2.quantity`. An
 * @ArgsType container (all arguments at once) gets no prefix.
 */
function argumentName(value: object, args: Record<string, unknown>): string {
  const keys = Object.keys(value);
  const argNames = Object.keys(args);
  if (argNames.length > 0 && argNames.every((n) => keys.includes(n)) && !Array.isArray(value)) return '';
  for (const [name, raw] of Object.entries(args)) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw) !== Array.isArray(value)) continue;
    if (Array.isArray(raw) ? raw.length === (value as unknown[]).length : Object.keys(raw).every((k) => keys.includes(k))) return name;
  }
  return '';
}

/**
 * Text PostgreSQL cannot store (NUL, lone surrogates) is refused in any argument, at any
 * depth, before a resolver runs: BAD_USER_INPUT naming the field, never a database error.
 */
const refuseUnstorableText: MiddlewareFn<GraphQLContext> = async ({ args, info }, next) => {
  // recordUsage checks each event itself and rejects only the bad ones (as POST /v1/usage does).
  const path = info.fieldName === 'recordUsage' ? null : unstorablePath(args, '');
  if (path) {
    throw badInput('UNSTORABLE_TEXT', `${path}: text must not contain NUL characters or unpaired surrogates`, [
      { path, message: 'must not contain NUL characters or unpaired surrogates' },
    ]);
  }
  return next();
};

/** Every mutation leaves at least one audit row, even one whose service recorded no entity diff. */
const auditEveryMutation: MiddlewareFn<GraphQLContext> = async ({ context, info, args }, next) => {
  if (info.parentType.name !== 'Mutation') return next();
  context.operation = info.fieldName;
  const before = context.auditWrites;
  const result = await next();
  if (context.auditWrites === before) await context.services.audit.recordOperation(context, args);
  return result;
};

/** Fails start-up if an operation forgot to declare its roles. */
export function assertEveryOperationAuthorized(): void {
  const storage = getMetadataStorage();
  const authorized = new Set(storage.authorizedFields.map((a) => `${a.target.name}.${a.fieldName}`));
  const missing = [...storage.queries, ...storage.mutations]
    .filter((r) => resolvers.includes(r.target))
    .map((r) => `${r.target.name}.${r.methodName}`)
    .filter((name) => !authorized.has(name));
  if (missing.length) throw new Error(`Operations without @Authorized roles: ${missing.join(', ')}`);
}

/**
 * The two middlewares above run on the resolvers' own fields (queries, mutations, field
 * resolvers: every field that takes arguments or does work), registered once per resolver
 * class, after the role check as before. Not as type-graphql `globalMiddlewares`: those also
 * wrap every plain field of every answer (`id`, `status`, …) in an async middleware chain, two
 * promises per field for checks that only concern arguments and mutations (ADR 0059).
 */
const withResolverMiddlewares = new WeakSet<object>();
function useResolverMiddlewares(): void {
  for (const r of resolvers) {
    if (withResolverMiddlewares.has(r)) continue;
    UseMiddleware(refuseUnstorableText, auditEveryMutation)(r as never);
    withResolverMiddlewares.add(r);
  }
}

export async function buildHubSchema(): Promise<GraphQLSchema> {
  assertEveryOperationAuthorized();
  useResolverMiddlewares();
  const schema = await buildSchema({
    resolvers,
    authChecker,
    authMode: 'error',
    validateFn: async (argValue, _argType, data) => {
      if (argValue === null || typeof argValue !== 'object') return;
      const values = Array.isArray(argValue) ? argValue : [argValue];
      const argName = argumentName(argValue, data.args);
      const fields: FieldError[] = [];
      for (const [i, v] of values.entries()) {
        if (v === null || typeof v !== 'object') continue;
        const errors = await validate(v as object, { forbidUnknownValues: false, validationError: { target: false } });
        fields.push(...flatten(errors, Array.isArray(argValue) ? `${argName}.${i}` : argName));
      }
      if (fields.length) {
        throw badInput('VALIDATION_FAILED', `Invalid input: ${fields.map((f) => `${f.path} ${f.message}`).join('; ')}`, fields);
      }
    },
  });
  return schema;
}

/** The schema as committed in schema.graphql: sorted, so diffs show real changes only. */
export function printSortedSchema(schema: GraphQLSchema): string {
  return printSchema(lexicographicSortSchema(schema)) + '\n';
}
