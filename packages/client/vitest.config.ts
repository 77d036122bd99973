import { packageProject } from '../../vitest.shared.js';

// Database tests share two cores with the server: a generous timeout, so a slow machine is not a failure
// (speed is measured by the benchmarks, never by tests).
export default packageProject('client', { testTimeout: 60_000, hookTimeout: 60_000 });
