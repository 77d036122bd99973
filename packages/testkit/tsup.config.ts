import { packageBuild } from '../../tsup.shared.js';

// `embedded-postgres` is importable without vitest (the sidecar's demo reuses it); `global-setup` is vitest's entry.
// vitest is provided by the workspace root (not a dependency of this package), so it must stay external.
export default packageBuild(['src/index.ts', 'src/embedded-postgres.ts', 'src/global-setup.ts'], {
  external: ['vitest'],
});
