// The cache: a thin facade over parts with one job each, under cache/ (docs/architecture.md).
export { createNearCache } from './create.js';
export { NearCache } from './cache/near-cache.js';
export { NearCacheNamespace } from './cache/namespace.js';
export { CacheLease } from './cache/lease.js';
export type { FleetTurn } from './cache/fleet-flight.js';
export type {
  CacheChange,
  CacheState,
  CacheStats,
  NearCacheEvents,
  PartitionStats,
  ReadOptions,
  RejectedRecord,
  SetOptions,
  FillOptions,
  LeaseOptions,
  StaleServed,
  WrapOptions,
  WriteOptions,
} from './cache/types.js';
export { mergeSessionTokens, parseSessionToken, type SessionPosition } from './cache/session-token.js';
