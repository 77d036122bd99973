import { packageProject } from '../../vitest.shared.js';

export default packageProject('example-etl-fuse-stats');
