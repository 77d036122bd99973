import { packageBuild } from '../../tsup.shared.js';

// `embedded-postgres` is importable without vitest (the sidecar's demo reuses it); `global-setup` is vitest's entry.
export default packageBuild(['src/index.ts', 'src/embedded-postgres.ts', 'src/global-setup.ts']);
