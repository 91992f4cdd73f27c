// The GraphQL operations this starter sends. `graphql(...)` comes from the code generated from
// schema.graphql (`npm run codegen`): each call returns a typed document, so the client knows the exact
// shape of the variables it takes and of the data it answers.
import { graphql } from './gql/index.js';

// What a list row shows of a case. Fragments are written once and spread where needed; the generated
// types include their fields.
export const CaseSummary = graphql(`
  fragment CaseSummary on Case {
    id
    code
    title
    status
    registeredAt
  }
`);

// Signing in answers a session: an access token for `Authorization: Bearer …` (short-lived, see
// `accessTokenExpiresAt`) and a refresh token to trade once for a new pair with `refreshSession`.
export const SignIn = graphql(`
  mutation SignIn($input: SignInInput!) {
    signIn(input: $input) {
      accessToken
      accessTokenExpiresAt
      refreshToken
      user {
        username
        displayName
      }
    }
  }
`);

// Who is signed in, and at which center (tenant): a county, township or village.
export const Me = graphql(`
  query Me {
    me {
      user {
        displayName
      }
      tenant {
        id
        name
        level
      }
    }
  }
`);

// The cases the caller may see, newest first, a page at a time (a Relay connection: pass the last
// page's `endCursor` as `after` for the next one; `last` and `before` page backwards). `totalCount`
// counts the whole list, and costs the server a count: ask for it when it is shown.
export const Cases = graphql(`
  query Cases($first: Int!, $after: String, $withTotal: Boolean!) {
    cases(first: $first, after: $after) {
      totalCount @include(if: $withTotal)
      edges {
        cursor
        node {
          ...CaseSummary
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

// Registers what a resident brought to the center's window (受理登记). The idempotency key makes a retry
// safe: sent again, it answers the same case with `replayed: true`.
export const RegisterCase = graphql(`
  mutation RegisterCase($input: RegisterCaseInput!) {
    registerCase(input: $input) {
      replayed
      case {
        ...CaseSummary
      }
    }
  }
`);

// A center's live reports (over the websocket): among them, each case registered there.
export const CenterEvents = graphql(`
  subscription CenterEvents($tenantId: ID!) {
    centerEvents(tenantId: $tenantId) {
      kind
      centerId
      at
      case {
        ...CaseSummary
      }
    }
  }
`);

// Ends the session: its access and refresh tokens stop working, here and on every server.
export const SignOut = graphql(`
  mutation SignOut {
    signOut
  }
`);
