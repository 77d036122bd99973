import { packageProject } from '../../vitest.shared.js';

// The end-to-end tests start real processes and wait on schedules: generous timeouts.
export default packageProject('sidecar', { testTimeout: 120_000, hookTimeout: 120_000 });
