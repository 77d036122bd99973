import { defineConfig } from 'vitest/config';
import { projects } from './vitest.workspace.js';

const ci = Boolean(process.env.CI);

export default defineConfig({
  test: {
    projects,
    // One embedded PostgreSQL 18 per run for every database test (see packages/testkit/README.md).
    globalSetup: ['./packages/testkit/src/global-setup.ts'],
    // On CI the JSON report lets .ci/run print a plain "N passed, N failed" closing line.
    reporters: ci ? ['default', 'json'] : ['default'],
    outputFile: ci ? { json: '.vitest-results.json' } : undefined,
  },
});
