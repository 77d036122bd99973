/**
 * The soak tests (`pnpm test:soak`): minutes-long runs under faults, on their own embedded
 * PostgreSQL. Never part of `pnpm test` (whose projects include only `test/**\/*.test.ts`).
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@pgtrickle/source'] },
  ssr: { resolve: { conditions: ['@pgtrickle/source'] } },
  test: {
    name: 'soak',
    include: ['packages/*/soak/**/*.soak.ts'],
    testTimeout: 1_800_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});
