/** The process helpers, from @pgtrickle/embedded (re-exported for the test kit's own tests). */
export {
  isPostgresProcess,
  isProcessAlive,
  processStartTime,
  signalProcess,
  sleep,
  waitForProcessExit,
} from '../../embedded/src/index.js';
