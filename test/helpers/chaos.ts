// The chaos wrapper ships with the contract suite.
export { ChaosLog, chaos } from '@nearcache/core/conformance';
