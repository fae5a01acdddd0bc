import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { Kind, type FieldNode, type GraphQLSchema, type SelectionSetNode, type ValidationRule } from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';
import { fieldExtensionsEstimator, getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';
import type { Config } from '../config';
import { AppError } from '../common/errors';
import type { GraphQLContext } from './graphql-context';

/**
 * The limits that keep one GraphQL request from costing the server more than it should
 * (OWASP GraphQL Cheat Sheet): aliases, the same field repeated, cost (aggregates weighed
 * by what they cost the database), and a time budget for execution and database work.
 * Every refusal is LIMIT_EXCEEDED with a subCode naming the limit.
 */

const limitExceeded = (subCode: string, message: string, details: Record<string, unknown>) =>
  new AppError('LIMIT_EXCEEDED', subCode, message, details);

/** At most `max` aliases in an operation (fragments counted where they are spread); graphql-armor counts them. */
export function aliasLimitRule(max: number): ValidationRule {
  return maxAliasesRule({
    n: max,
    propagateOnRejection: false,
    onReject: [
      (context, err) => {
        const found = Number(/found (\d+)/.exec(err.message)?.[1] ?? NaN);
        context?.reportError(
          limitExceeded(
            'ALIAS_LIMIT',
            `The operation uses ${Number.isNaN(found) ? 'more' : found} aliases, over the limit of ${max} (EHUB_MAX_ALIASES); send fewer fields per request`,
            { limit: max, ...(Number.isNaN(found) ? {} : { found }) },
          ),
        );
      },
    ],
  });
}

/**
 * The same field (by name, aliased or not) at most `max` times in one selection set:
 * `{ a a a … }` and `{ x1: accounts x2: accounts … }` both make the server validate and
 * resolve one field over and over. Reported once per operation.
 */
export function fieldDuplicationRule(max: number): ValidationRule {
  return (context) => {
    let reported = false;
    return {
      SelectionSet(node: SelectionSetNode) {
        if (reported) return;
        const counts = new Map<string, number>();
        for (const sel of node.selections) {
          if (sel.kind !== Kind.FIELD || sel.name.value === '__typename') continue;
          const n = (counts.get(sel.name.value) ?? 0) + 1;
          counts.set(sel.name.value, n);
          if (n > max) {
            reported = true;
            const found = node.selections.filter((s) => s.kind === Kind.FIELD && s.name.value === sel.name.value).length;
            context.reportError(
              limitExceeded(
                'FIELD_DUPLICATION_LIMIT',
                `The field ${sel.name.value} is selected ${found} times in one selection, over the limit of ${max} (EHUB_MAX_FIELD_DUPLICATES)`,
                { field: sel.name.value, found, limit: max },
              ),
            );
            return;
          }
        }
      },
    };
  };
}

/** Root queries that aggregate over many rows (analytics), priced like a count. */
const AGGREGATE_FIELDS = new Set(['Query.adoption', 'Query.usageSeries', 'Query.utilization', 'Query.unusedEntitlements', 'Query.packagingInsight', 'Query.usagePersonas']);

const isAggregate = (typeName: string, fieldName: string) =>
  AGGREGATE_FIELDS.has(`${typeName}.${fieldName}`) || (fieldName === 'totalCount' && typeName.endsWith('Connection'));

/** Cost of the `totalCount` fields selected directly under a connection (run once, not per item). */
function directTotalCounts(selectionSet: SelectionSetNode | undefined, aggregateCost: number): number {
  if (!selectionSet) return 0;
  return selectionSet.selections.filter((s): s is FieldNode => s.kind === Kind.FIELD && s.name.value === 'totalCount').length * aggregateCost;
}

/**
 * A field costs 1, an aggregate (`totalCount`: a count over every matching row; analytics
 * roots) costs `aggregateCost`; a list with `first` costs its page size times its items'
 * fields, while its `totalCount` is counted once (it is one query, whatever the page size).
 */
export function costEstimator(aggregateCost: number): ComplexityEstimator {
  return ({ type, field, node, args, childComplexity }) => {
    const own = isAggregate(type.name, field.name) ? aggregateCost : 1;
    if (typeof args.first !== 'number') return undefined;
    const once = Math.min(childComplexity, directTotalCounts(node.selectionSet, aggregateCost));
    return own + (childComplexity - once) * Math.max(1, args.first) + once;
  };
}

const aggregateEstimator =
  (aggregateCost: number): ComplexityEstimator =>
  ({ type, field, childComplexity }) =>
    isAggregate(type.name, field.name) ? aggregateCost + childComplexity : undefined;

/** The cost of an operation as the QUERY_COST_LIMIT check sees it (exported for tests and docs). */
export function operationCost(schema: GraphQLSchema, config: Config, query: Parameters<typeof getComplexity>[0]['query'], variables: Record<string, unknown>, operationName?: string): number {
  return getComplexity({
    schema,
    operationName,
    query,
    variables,
    estimators: [
      costEstimator(config.EHUB_QUERY_AGGREGATE_COST),
      aggregateEstimator(config.EHUB_QUERY_AGGREGATE_COST),
      fieldExtensionsEstimator(),
      simpleEstimator({ defaultComplexity: 1 }),
    ],
  });
}

/**
 * Mutations that run a job on demand (operators' buttons for scheduled work): they have
 * their own budgets (e.g. EHUB_SYNC_RUN_BUDGET_MS), so the request budget does not apply.
 */
export const JOB_OPERATIONS: ReadonlySet<string> = new Set(['runSync', 'runCompliance', 'recogniseUsage', 'rebuildUsageRollups', 'closePeriod']);

export const executionTimeout = (budgetMs: number) =>
  limitExceeded('EXECUTION_TIMEOUT', `The request ran past its time budget of ${budgetMs} ms (EHUB_REQUEST_TIMEOUT_MS); ask for less per request`, { limit: budgetMs });

/**
 * Cost and time limits as an Apollo plugin: the cost check once the operation is known, and
 * a deadline check before every field resolves (once the request's budget is spent, the
 * remaining fields fail fast with EXECUTION_TIMEOUT instead of running on).
 */
export function limitsPlugin(schema: GraphQLSchema, config: Config): ApolloServerPlugin<GraphQLContext> {
  const limit = config.EHUB_MAX_QUERY_COMPLEXITY;
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, operation, contextValue }) {
          if (operation?.operation === 'mutation' && operation.selectionSet.selections.some((s) => s.kind === Kind.FIELD && JOB_OPERATIONS.has(s.name.value))) {
            delete contextValue.deadline;
          }
          let cost: number;
          try {
            cost = operationCost(schema, config, document, request.variables ?? {}, request.operationName ?? undefined);
          } catch {
            // Variables that do not fit their types: execution reports them as BAD_USER_INPUT.
            return;
          }
          if (cost > limit) {
            throw limitExceeded(
              'QUERY_COST_LIMIT',
              `The query costs ${cost}, over the limit of ${limit} (EHUB_MAX_QUERY_COMPLEXITY); ask for fewer items, fields or totals`,
              // Thrown before execution, so Apollo would answer 500 without an explicit status.
              { cost, limit, http: { status: 400 } },
            );
          }
        },
        async executionDidStart() {
          return {
            willResolveField({ contextValue }) {
              if (contextValue.deadline !== undefined && Date.now() > contextValue.deadline) throw executionTimeout(config.EHUB_REQUEST_TIMEOUT_MS);
            },
          };
        },
      };
    },
  };
}
