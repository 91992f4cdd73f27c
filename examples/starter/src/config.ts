// Where the API is and whom to sign in as, from the environment. The defaults fit a server started with
// `cargo run -p fengqiao` on a fresh data folder, which seeds the demo county 清水县.

export interface Config {
  /** The GraphQL endpoint over HTTP, e.g. http://127.0.0.1:8080/graphql. */
  httpUrl: string;
  /** The same path over a websocket (ws:// or wss://), for subscriptions. */
  wsUrl: string;
  username: string;
  password: string;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw = env['STARTER_GRAPHQL_URL'] || 'http://127.0.0.1:8080/graphql';
  let http: URL;
  try {
    http = new URL(raw);
  } catch {
    throw new Error(`STARTER_GRAPHQL_URL is not a URL: ${raw}`);
  }
  if (http.protocol !== 'http:' && http.protocol !== 'https:') {
    throw new Error(`STARTER_GRAPHQL_URL must be http:// or https://, not ${http.protocol}`);
  }
  // The server answers subscriptions (graphql-transport-ws) on the same path as HTTP requests.
  const ws = new URL(http);
  ws.protocol = http.protocol === 'https:' ? 'wss:' : 'ws:';
  return {
    httpUrl: http.toString(),
    wsUrl: ws.toString(),
    // A window clerk of the demo's township 永清镇 (t01): it may register cases there and read the
    // center's cases, which is what `centerEvents` asks of a listener.
    username: env['STARTER_USERNAME'] || 't01.clerk',
    password: env['STARTER_PASSWORD'] || 'fengqiao-demo',
  };
}
