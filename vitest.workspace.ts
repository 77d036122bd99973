/**
 * The list of vitest test projects. vitest 4 ignores a workspace file on its own, so
 * `vitest.config.ts` imports this list under `test.projects`. The entries name the config files
 * (a bare `examples/*` would also match `examples/run-all.ts`, which vitest refuses).
 */
export const projects: string[] = ['packages/*/vitest.config.ts', 'examples/*/vitest.config.ts'];
