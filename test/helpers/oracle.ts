// The oracle ships with the contract suite.
export { diff, foldTopic, snapshot } from '@nearcache/core/conformance';
