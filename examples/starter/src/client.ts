// One urql client for everything: queries and mutations go over HTTP (fetchExchange), subscriptions
// over a websocket speaking graphql-transport-ws (subscriptionExchange with graphql-ws). Both send the
// session's access token: HTTP as `Authorization: Bearer …`, the websocket in its `connection_init`
// payload, where the server reads the same `Authorization` key.
import {
  Client,
  CombinedError,
  fetchExchange,
  subscriptionExchange,
  type AnyVariables,
  type OperationResult,
  type OperationResultSource,
} from '@urql/core';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
// Node.js 20 has no global WebSocket; in a browser leave `webSocketImpl` out and this import with it.
import WebSocket from 'ws';

import type { Config } from './config.js';

/** A failed operation, with the stable `extensions.code` of each GraphQL error (`UNAUTHENTICATED`, …). */
export class ApiError extends Error {
  override name = 'ApiError';

  constructor(
    message: string,
    /** The errors' codes; `NETWORK` when the request itself failed. */
    readonly codes: string[],
  ) {
    super(message);
  }

  /** Describes an urql error: each GraphQL error as `CODE: message (at path; request id)`. */
  static from(operation: string, error: CombinedError): ApiError {
    if (error.graphQLErrors.length === 0) {
      return new ApiError(`${operation} failed: NETWORK: ${describeNetworkError(error)}`, ['NETWORK']);
    }
    const codes: string[] = [];
    const lines = error.graphQLErrors.map((e) => {
      const extensions = (e.extensions ?? {}) as Record<string, unknown>;
      const code = typeof extensions['code'] === 'string' ? extensions['code'] : 'NO_CODE';
      codes.push(code);
      const where = e.path ? ` at ${e.path.join('.')}` : '';
      // Every error names the request's id (also the `x-request-id` header): quote it in a report.
      const id = typeof extensions['requestId'] === 'string' ? `; request ${extensions['requestId']}` : '';
      const field = typeof extensions['field'] === 'string' ? `; field ${extensions['field']}` : '';
      return `  ${code}: ${e.message}${where}${field}${id}`;
    });
    return new ApiError(`${operation} failed:\n${lines.join('\n')}`, codes);
  }
}

function describeNetworkError(error: CombinedError): string {
  const network: unknown = error.networkError;
  // A websocket that the server closed arrives as its close event, not as an Error: the server says
  // why in the reason (a refused access token, …).
  if (isCloseEvent(network)) {
    return `the websocket closed (code ${network.code}${network.reason ? `: ${network.reason}` : ''})`;
  }
  if (network instanceof Error) {
    // Node's fetch says only "fetch failed"; the reason (ECONNREFUSED, …) is its cause.
    const cause = network.cause instanceof Error ? `: ${network.cause.message}` : '';
    return `${network.message}${cause}`;
  }
  return error.message;
}

function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { code?: unknown }).code === 'number' &&
    typeof (value as { reason?: unknown }).reason === 'string'
  );
}

/** Waits for an operation's answer and returns its data, or throws an {@link ApiError}. */
export async function data<Data, Variables extends AnyVariables>(
  operation: string,
  source: OperationResultSource<OperationResult<Data, Variables>>,
): Promise<Data> {
  const result = await source.toPromise();
  if (result.error) throw ApiError.from(operation, result.error);
  if (result.data === undefined || result.data === null) {
    throw new ApiError(`${operation} failed: the answer had no data`, ['NO_DATA']);
  }
  return result.data;
}

export interface Api {
  client: Client;
  /** Sends this access token from now on (HTTP at once, the websocket at its next connection). */
  setAccessToken(token: string | null): void;
  /** Resolves once the websocket is open and the server has accepted its `connection_init`. */
  connected(): Promise<void>;
  /** Closes the websocket, if open, and waits until it is closed. */
  close(): Promise<void>;
}

export function connect(config: Pick<Config, 'httpUrl' | 'wsUrl'>): Api {
  let accessToken: string | null = null;
  let open = false;
  const connectedWaiters: Array<() => void> = [];
  const closedWaiters: Array<() => void> = [];

  const ws: WsClient = createWsClient({
    url: config.wsUrl,
    webSocketImpl: WebSocket,
    // Read at each (re)connection, so that a reconnection sends the token in force then. The server
    // closes a connection whose token is missing or refused, saying why in the close reason.
    connectionParams: () => (accessToken ? { Authorization: `Bearer ${accessToken}` } : {}),
    // Connect on the first subscription and close after the last one ends.
    lazy: true,
    retryAttempts: 3,
    on: {
      connected: () => {
        open = true;
        connectedWaiters.splice(0).forEach((resolve) => resolve());
      },
      closed: () => {
        open = false;
        closedWaiters.splice(0).forEach((resolve) => resolve());
      },
    },
  });

  const client = new Client({
    url: config.httpUrl,
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const payload = {
            query: request.query ?? '',
            variables: request.variables ?? null,
            operationName: request.operationName ?? null,
          };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(payload, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
    // Read before every request, so the token set after signing in is the one sent.
    fetchOptions: (): RequestInit => {
      const headers: Record<string, string> = {};
      if (accessToken) headers['authorization'] = `Bearer ${accessToken}`;
      return { headers };
    },
    // POST everything. GET also works for queries (and is cacheable for anonymous callers).
    preferGetMethod: false,
  });

  return {
    client,
    setAccessToken(token) {
      accessToken = token;
    },
    connected() {
      return open ? Promise.resolve() : new Promise((resolve) => connectedWaiters.push(resolve));
    },
    async close() {
      const closed = open ? new Promise<void>((resolve) => closedWaiters.push(resolve)) : null;
      await ws.dispose();
      await closed;
    },
  };
}
