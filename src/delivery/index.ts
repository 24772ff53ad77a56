export { deliver, type DeliverOptions, type DeliveryResult, type DeliveryStats, type RetryEvent } from './pipeline.js';
export {
  readCheckpoint,
  removeStaleTemps,
  writeCheckpoint,
  type Checkpoint,
  type CheckpointCoverage,
  type CheckpointFile,
} from './checkpoint.js';
export { DEFAULT_RETRY_POLICY, type Clock, type RetryPolicy } from './retry.js';
