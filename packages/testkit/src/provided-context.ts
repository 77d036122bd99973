/**
 * The values the global setup hands to test files through vitest's `provide`/`inject`, typed by
 * augmenting vitest's `ProvidedContext`. Type-only: importing this module loads nothing at run
 * time (the global setup must not import vitest's runtime).
 */
import type {} from 'vitest';

declare module 'vitest' {
  interface ProvidedContext {
    /**
     * URL of the test server's `postgres` database as a user allowed to create databases:
     * the embedded server started by `@pgtrickle/testkit`'s global setup, or
     * `PGTRICKLE_TEST_DATABASE_URL`. Empty when no server was started.
     */
    pgtrickleDatabaseUrl: string;
    /** Why no server is available (empty when one is). */
    pgtrickleDatabaseUnavailable: string;
  }
}
