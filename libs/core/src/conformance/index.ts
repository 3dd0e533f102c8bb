// The cache's contract as a test suite any ReplicationLog can be checked against, with what it is
// built from: a chaos wrapper that injects a log's failures, an oracle that folds a topic as a
// fresh reader must, and records written as another writer would. Load it from test code only.
export { ChaosLog, chaos } from './chaos.js';
export { describeReplicationLogContract, type ContractContext, type ContractSection } from './contract.js';
export type { ContractAssertion, ContractFramework, ContractOptions, ReplicationLogHarness } from './harness.js';
export { diff, foldTopic, snapshot } from './oracle.js';
export { decodePayload, foreignDelete, foreignSet, metaHeaders, recordMeta, withMetaLine, type MetaFields, type RecordMeta } from './records.js';
export { waitFor, type WaitOptions } from './support.js';
