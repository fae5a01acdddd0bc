/**
 * The console's GraphQL client: POST /graphql with the signed-in key. Operations are typed
 * documents (operations.ts): the query text with its result and variables types.
 */
export interface TypedDocument<TData, TVars = Record<string, never>> {
  name: string;
  query: string;
  /** Phantom fields carrying the types. */
  readonly __data?: TData;
  readonly __vars?: TVars;
}

export function doc<TData, TVars = Record<string, never>>(name: string, query: string): TypedDocument<TData, TVars> {
  return { name, query };
}

export interface GqlError {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; subCode?: string };
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly errors: GqlError[] = [],
  ) {
    super(message);
  }
}

/** What a failed call says to a person: the API's message and code, or the error as text. */
export const failureText = (e: unknown): string => (e instanceof ApiError ? `${e.message} (${e.code})` : String(e));

export interface Result<T> {
  data: T;
  /** Errors of single fields (the rest of the data is there). */
  errors: GqlError[];
}

const KEY = 'ehub:console:key';

/** The API key lives in sessionStorage only: gone when the browser session ends. */
export const session = {
  key: (): string | null => sessionStorage.getItem(KEY),
  set: (k: string) => sessionStorage.setItem(KEY, k),
  clear: () => sessionStorage.removeItem(KEY),
};

export let requestCount = 0;

export async function gql<TData, TVars>(d: TypedDocument<TData, TVars>, variables: TVars, key = session.key()): Promise<Result<TData>> {
  if (!key) throw new ApiError('Not signed in', 'UNAUTHENTICATED');
  requestCount++;
  let res: Response;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: d.query, variables, operationName: d.name }),
    });
  } catch (e) {
    throw new ApiError(`The hub did not answer: ${String(e)}`, 'NETWORK');
  }
  let body: { data?: TData | null; errors?: GqlError[] };
  try {
    body = (await res.json()) as typeof body;
  } catch {
    throw new ApiError(`The hub answered HTTP ${res.status} without JSON`, `HTTP_${res.status}`);
  }
  const errors = body.errors ?? [];
  if (!body.data) {
    const e = errors[0];
    throw new ApiError(e?.message ?? `HTTP ${res.status}`, e?.extensions?.code ?? `HTTP_${res.status}`, errors);
  }
  return { data: body.data, errors };
}

/** A link that opens the same operation in GraphiQL (the hub's /graphql page reads it from the hash). */
export function graphiqlHref<TVars>(d: TypedDocument<unknown, TVars>, variables: TVars): string {
  const q = new URLSearchParams({ query: d.query.trim(), variables: JSON.stringify(variables, null, 2) });
  return `/graphql#${q.toString()}`;
}
