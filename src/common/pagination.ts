import { ArgsType, Field, Int, ObjectType, type ClassType } from 'type-graphql';
import { Max, Min } from 'class-validator';
import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { badInput } from './errors';

@ArgsType()
export class PageArgs {
  @Field(() => Int, { defaultValue: 50, description: 'How many items to return (1–500).' })
  @Min(1)
  @Max(500)
  first: number = 50;

  @Field(() => String, { nullable: true, description: 'Return items after this cursor (`pageInfo.endCursor`).' })
  after?: string | null;
}

@ObjectType({ description: 'Relay page information.' })
export class PageInfo {
  @Field({ description: 'Whether more items follow this page.' })
  hasNextPage: boolean;

  @Field(() => String, { nullable: true, description: 'The cursor of the last item of this page; pass it as `after`.' })
  endCursor: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}
export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
  totalCount: number;
}

/** Builds `<Name>Connection` and `<Name>Edge` GraphQL types for a node type (Relay shape). */
export function ConnectionType<T extends object>(node: ClassType<T>, name: string = node.name) {
  @ObjectType(`${name}Edge`, { description: `One ${name} in a page.` })
  class EdgeType {
    @Field({ description: 'Opaque cursor of this item.' })
    cursor: string;

    @Field(() => node, { description: `The ${name}.` })
    node: T;
  }

  @ObjectType(`${name}Connection`, { description: `A page of ${name} items.` })
  class ConnectionClass {
    @Field(() => [EdgeType], { description: 'The items of this page.' })
    edges: EdgeType[];

    @Field(() => PageInfo, { description: 'Where this page is in the whole list.' })
    pageInfo: PageInfo;

    @Field(() => Int, { description: 'How many items match the filter, over all pages.' })
    totalCount: number;
  }
  return ConnectionClass as ClassType<Connection<T>>;
}

/** The cursor of an item in keyset order (exported for loaders that page many parents at once). */
export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!createdAt || !id || Number.isNaN(Date.parse(createdAt))) {
    throw badInput('INVALID_CURSOR', 'The cursor is not one this API returned', [{ path: 'after', message: 'invalid cursor' }]);
  }
  return { createdAt, id };
}

/**
 * Keyset pagination over (sortField, id), oldest first: stable under inserts, no OFFSET.
 * The query builder must already hold its filters; `alias` is its main alias; the entity
 * needs `id` and a timestamp `sortField` stored with millisecond precision
 * (`timestamptz(3)`), so the cursor's ISO string round-trips exactly.
 */
export async function paginate<T extends ObjectLiteral & { id: string }>(
  qb: SelectQueryBuilder<T>,
  alias: string,
  args: PageArgs,
  sortField: string = 'createdAt',
  direction: 'ASC' | 'DESC' = 'ASC',
): Promise<Connection<T>> {
  const totalCount = await qb.clone().getCount();
  if (args.after) {
    const c = decodeCursor(args.after);
    qb.andWhere(`(${alias}.${sortField}, ${alias}.id) ${direction === 'ASC' ? '>' : '<'} (:cursorAt, :cursorId)`, { cursorAt: c.createdAt, cursorId: c.id });
  }
  const rows = await qb
    .orderBy(`${alias}.${sortField}`, direction)
    .addOrderBy(`${alias}.id`, direction)
    .take(args.first + 1)
    .getMany();
  const hasNextPage = rows.length > args.first;
  const page = rows.slice(0, args.first);
  const edges = page.map((node) => ({ cursor: encodeCursor(node[sortField] as Date, node.id), node }));
  return { edges, pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null }, totalCount };
}

/** Escapes LIKE wildcards so a search string matches literally. */
export function likePattern(search: string): string {
  return `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
