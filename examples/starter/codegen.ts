// GraphQL Code Generator: reads the API's schema (schema.graphql at the repository root, which CI keeps
// equal to what the server serves) and the operations written with `graphql(...)` in src/, and writes
// typed documents to src/gql/. The folder is not committed: `npm run codegen` writes it again, so an
// operation that no longer matches the schema fails here, or in `tsc` after it.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../../schema.graphql',
  documents: ['src/**/*.ts', '!src/gql/**'],
  // Each operation is checked against the schema: a field it lacks, a wrong argument or variable type
  // fails the command and writes nothing. Finding no operation at all fails it too.
  ignoreNoDocuments: false,
  generates: {
    './src/gql/': {
      preset: 'client',
      presetConfig: {
        // Results carry a fragment's fields directly; masking suits component trees more than a script.
        fragmentMasking: false,
      },
      config: {
        // Node's ES modules need `.js` on relative imports.
        emitLegacyCommonJSImports: false,
        useTypeImports: true,
        // String unions rather than TypeScript enums: `status === 'REGISTERED'` type-checks.
        enumsAsTypes: true,
        // Every scalar the schema declares gets a type, and an unknown one is an error.
        strictScalars: true,
        scalars: {
          // RFC 3339 with a time zone, e.g. 2026-12-08T01:02:03Z.
          DateTime: 'string',
          // A calendar day, e.g. 2026-12-08.
          NaiveDate: 'string',
          JSON: 'unknown',
        },
      },
    },
  },
};

export default config;
