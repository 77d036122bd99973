/** Run directories and stale-server clean-up, from @pgtrickle/embedded (re-exported for the test kit). */
export {
  cleanupStaleServers,
  OWNER_FILE,
  RUN_DIR_PREFIX,
  type RunOwner,
  readPostmasterPid,
  removeDir,
  type StaleCleanupOptions,
  type StaleCleanupReport,
  stopPostmaster,
  writeOwnerFile,
} from '../../embedded/src/index.js';
