/**
 * The list of vitest test projects. vitest 4 ignores a workspace file on its own, so
 * `vitest.config.ts` imports this list under `test.projects`.
 */
export const projects: string[] = ['packages/*', 'examples/*'];
