// The Fengqiao starter: what a front end does first, end to end, against a running server.
//   1. signs in and keeps the session's access token;
//   2. reads who it is and at which center;
//   3. pages through the cases it may see, newest first, following `endCursor`;
//   4. listens to its center's live reports (`centerEvents`), registers a case and waits to hear of it;
//   5. unsubscribes, signs out and closes the websocket.
// It exits 0 when all of that worked, and 1 with the reason (each GraphQL error's `extensions.code`)
// when anything did not.
import { randomUUID } from 'node:crypto';

import { ApiError, connect, data, type Api } from './client.js';
import { readConfig } from './config.js';
import type { CaseSummaryFragment, CasesQuery, CenterEventsSubscription } from './gql/graphql.js';
import { Cases, CenterEvents, Me, RegisterCase, SignIn, SignOut } from './operations.js';

/** Cases a page (the API takes 1 to 100; 20 when `first` is absent). */
const PAGE_SIZE = 10;
/** How many pages to follow. */
const PAGES = 3;
/** How long to wait to hear of the case just registered. */
const EVENT_TIMEOUT_MS = 10_000;
/**
 * A pause between subscribing and registering. graphql-transport-ws has no message saying that a
 * subscription has started: the server checks the caller's right to read the center's cases, then
 * listens, and an event published before that is not sent to this subscription.
 */
const SUBSCRIBE_SETTLE_MS = 300;
/** The whole run's limit: past it, something was left hanging (a socket, a timer). */
const RUN_TIMEOUT_MS = 60_000;

type LiveEvent = CenterEventsSubscription['centerEvents'];

async function main(): Promise<void> {
  const config = readConfig();
  console.log(`Fengqiao starter against ${config.httpUrl} (websocket ${config.wsUrl})`);
  const api = connect(config);
  try {
    await run(api, config.username, config.password);
  } finally {
    await api.close();
  }
  console.log('   websocket closed; all done');
}

async function run(api: Api, username: string, password: string): Promise<void> {
  const { client } = api;

  // 1. Sign in. The answer is a session; from now on every request carries its access token.
  const session = (
    await data('signIn', client.mutation(SignIn, { input: { username, password } }))
  ).signIn;
  api.setAccessToken(session.accessToken);
  console.log(
    `1. signed in as ${session.user.username} (${session.user.displayName}); ` +
      `the access token expires at ${session.accessTokenExpiresAt}`,
  );

  // 2. Who am I, and where? Cases and live reports belong to a center (a tenant).
  const { me } = await data('me', client.query(Me, {}));
  console.log(`2. ${me.user.displayName} works at ${me.tenant.name} (${me.tenant.level}, id ${me.tenant.id})`);

  // 3. The cases, a page at a time.
  await listCases(api);

  // 4. Hear of a case as it is registered.
  await registerAndHear(api, me.tenant.id, me.tenant.name);

  // 5. End the session: its tokens stop working everywhere.
  await data('signOut', client.mutation(SignOut, {}));
  api.setAccessToken(null);
  console.log('5. signed out');
}

async function listCases(api: Api): Promise<void> {
  console.log(`3. cases, newest first, ${PAGE_SIZE} a page:`);
  const seen = new Set<string>();
  let after: string | null = null;
  for (let page = 1; page <= PAGES; page++) {
    // (Annotated because `after` feeds back into the next request, which TypeScript cannot infer.)
    const { cases }: CasesQuery = await data(
      'cases',
      api.client.query(Cases, { first: PAGE_SIZE, after, withTotal: page === 1 }),
    );
    if (page === 1) console.log(`   ${cases.totalCount} cases in all`);
    const rows = cases.edges.map((edge) => edge.node);
    // A cursor marks a place in the list, so paging never shows a case twice, even while cases are
    // registered meanwhile (they come before the first page, not inside the next one).
    for (const row of rows) {
      if (seen.has(row.id)) throw new Error(`case ${row.id} (${row.code}) came twice while paging`);
      seen.add(row.id);
    }
    if (cases.pageInfo.hasNextPage && rows.length !== PAGE_SIZE) {
      throw new Error(`page ${page} has ${rows.length} cases, not ${PAGE_SIZE}, yet more follow`);
    }
    const first = rows[0];
    const last = rows[rows.length - 1];
    const span = first && last ? `${first.code} … ${last.code}, registered ${day(first)} … ${day(last)}` : 'empty';
    console.log(`   page ${page}/${PAGES}: ${rows.length} cases, ${span}; ${statusCounts(rows)}`);
    if (!cases.pageInfo.hasNextPage) {
      console.log(`   the list ends here (${seen.size} cases)`);
      return;
    }
    if (!cases.pageInfo.endCursor) throw new Error('hasNextPage is true but endCursor is missing');
    after = cases.pageInfo.endCursor;
  }
  console.log(`   ${seen.size} distinct cases over ${PAGES} pages; more follow`);
}

async function registerAndHear(api: Api, tenantId: string, tenantName: string): Promise<void> {
  // Every event heard is kept, since one may arrive before registerCase's own answer does.
  const inbox = new Inbox<LiveEvent>();
  const subscription = api.client
    .subscription(CenterEvents, { tenantId })
    .subscribe((result) => {
      if (result.error) inbox.fail(ApiError.from('centerEvents', result.error));
      else if (result.data) inbox.push(result.data.centerEvents);
    });
  try {
    // Connected, or the reason it could not be (a refused token closes the socket; an error of the
    // subscription, such as FORBIDDEN, comes as its first result).
    const failed = inbox.next(() => false);
    await withTimeout(Promise.race([api.connected(), failed]), EVENT_TIMEOUT_MS, 'the websocket did not connect');
    await sleep(SUBSCRIBE_SETTLE_MS);
    console.log(`4. listening to centerEvents of ${tenantName}`);

    const sent = Date.now();
    const { registerCase } = await data(
      'registerCase',
      api.client.mutation(RegisterCase, {
        input: {
          kind: 'DISPUTE',
          channel: 'WINDOW',
          category: 'NEIGHBOUR',
          title: '楼上装修噪音纠纷（starter 示例）',
          description: '居民反映楼上住户夜间装修，影响休息，请求调解。',
          place: '永清镇一组',
          parties: [
            { role: 'APPLICANT', name: '王小明', phone: '13800138000' },
            { role: 'RESPONDENT', name: '赵大海' },
          ],
          // A fresh key each run; a retry of this request would send the same one.
          idempotencyKey: `starter-${randomUUID()}`,
        },
      }),
    );
    const registered = registerCase.case;
    console.log(`   registered ${registered.code} (${registered.status}, id ${registered.id})`);

    const event = await withTimeout(
      inbox.next((e) => e.case.id === registered.id),
      EVENT_TIMEOUT_MS,
      `no centerEvents event about case ${registered.code} within ${EVENT_TIMEOUT_MS / 1000} s`,
    );
    console.log(`   heard ${event.kind} for ${event.case.code} (${event.case.status}) ${Date.now() - sent} ms after sending it`);

    // Newest first: the case just registered now heads the list (unless someone else at the center
    // registered one in the meantime).
    const { cases } = await data('cases', api.client.query(Cases, { first: 1, after: null, withTotal: false }));
    const newest = cases.edges[0]?.node;
    if (newest?.id !== registered.id) {
      throw new Error(`the list does not start with the case just registered: ${newest?.code ?? 'it is empty'}`);
    }
    console.log(`   it heads the list of cases now`);
  } finally {
    // Ends the subscription: graphql-ws sends `complete`, and closes the idle socket.
    subscription.unsubscribe();
  }
}

/** Events as they come, and a way to wait for the first one that matches. */
class Inbox<T> {
  private items: T[] = [];
  private error: Error | null = null;
  private waiters: Array<() => void> = [];

  push(item: T): void {
    this.items.push(item);
    this.wake();
  }

  fail(error: Error): void {
    this.error ??= error;
    this.wake();
  }

  async next(matches: (item: T) => boolean): Promise<T> {
    for (;;) {
      const index = this.items.findIndex(matches);
      if (index >= 0) return this.items.splice(index, 1)[0] as T;
      if (this.error) throw this.error;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private wake(): void {
    this.waiters.splice(0).forEach((resolve) => resolve());
  }
}

function statusCounts(rows: CaseSummaryFragment[]): string {
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row.status, (counts.get(row.status) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${n} ${status}`).join(', ');
}

function day(row: CaseSummaryFragment): string {
  return row.registeredAt.slice(0, 10);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// Past the limit the process is stopped; it does not keep the process alive by itself.
setTimeout(() => {
  console.error(`starter: still running after ${RUN_TIMEOUT_MS / 1000} s; something was left open`);
  process.exit(1);
}, RUN_TIMEOUT_MS).unref();

main().catch((error: unknown) => {
  console.error(`starter: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
