import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

/** The vitest project config every package and example uses: tests read sibling packages' `src`. */
export function packageProject(name: string, extra: UserWorkspaceConfig['test'] = {}): UserWorkspaceConfig {
  return defineProject({
    resolve: { conditions: ['@pgtrickle/source'] },
    ssr: { resolve: { conditions: ['@pgtrickle/source'] } },
    test: {
      name,
      include: ['test/**/*.test.ts'],
      ...extra,
    },
  });
}
