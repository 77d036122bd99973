/**
 * `pnpm test:browser`: the status page in headless Chromium (Debian's `chromium`, driven by
 * playwright-core). Separate from `pnpm test` because it needs a browser on the machine; `.ci/run`
 * installs it and runs this too. Same embedded PostgreSQL set-up as the other database tests.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  resolve: { conditions: ['@pgtrickle/source'] },
  ssr: { resolve: { conditions: ['@pgtrickle/source'] } },
  test: {
    name: 'browser',
    include: ['test-browser/**/*.browser.ts'],
    globalSetup: ['../testkit/src/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
