export {
  CacheLease,
  createNearCache,
  NearCache,
  NearCacheNamespace,
  type CacheChange,
  type CacheState,
  type FleetTurn,
  mergeSessionTokens,
  parseSessionToken,
  type CacheStats,
  type NearCacheEvents,
  type PartitionStats,
  type ReadOptions,
  type RejectedRecord,
  type SessionPosition,
  type SetOptions,
  type FillOptions,
  type LeaseOptions,
  type StaleServed,
  type WrapOptions,
  type WriteOptions,
} from './cache.js';
export { systemClock, type Clock } from './clock.js';
// A deadline around a promise, for tools that await Kafka calls of their own.
export { withDeadline } from './retry.js';
export { bufferCodec, jsonCodec, structuredCodec, type Codec } from './codec.js';
export {
  BootstrapTimeoutError,
  CacheClosedError,
  CatchUpTimeoutError,
  ConsumerStalledError,
  DecodeError,
  HandlerFailedError,
  InvalidArgumentError,
  InvalidKeyError,
  InvalidOptionError,
  InvalidSessionTokenError,
  InvalidValueError,
  isNearCacheError,
  LoaderTimeoutError,
  LogUnavailableError,
  NearCacheError,
  ReplicationTimeoutError,
  ReplicationWorkerError,
  SnapshotRefusedError,
  type SnapshotRefusal,
  TopicNotCompactedError,
  ValueTooLargeError,
  WriteQueueFullError,
  WriteRejectedError,
} from './errors.js';
export { InProcessBroker, InProcessLog, inProcessLog, type InProcessLogOptions, type RawRecord } from './log/in-process.js';
// The Kafka adapter loads with kafkajs when a cache on Kafka opens its log, not with this module.
export { kafkaLog } from './log/lazy-kafka.js';
export type { KafkaLog, KafkaLogLevel, KafkaLogOptions } from './log/kafka/index.js';
// The Kafka options' checks (no kafkajs import), for tools that open their own clients.
export { resolveKafkaOptions, type ResolvedKafkaOptions } from './log/kafka/options.js';
export { checkTopicConfig, compactsKeys, TOPIC_CONFIG_NAMES, type TopicConfigFinding } from './log/topic-config.js';
export type { ConsumeHandlers, LogBatch, LogContext, PartitionOffsets, ReplicationLog, ReplicationLogFactory, SnapshotFacts } from './log/port.js';
// Replication on a worker thread: the worker loads kafkajs, this thread does not.
export { KafkaWorkerLog, kafkaWorkerLog, type ReplicationWorkerOptions, type WorkerFlow } from './log/worker/worker-log.js';
export { consoleLogger, formatLogLine, silentLogger, type Logger } from './logger.js';
// Tracing channels (node:diagnostics_channel) around wrap, loads, writes and records applied.
export { NEARCACHE_CHANNELS, type ApplyTrace, type LoadTrace, type TraceSource, type WrapTrace, type WriteTrace } from './telemetry/channels.js';
export type { CacheMode, NearCacheOptions, ReplicationMode } from './options.js';
export { defaultMaxBytes, NEAR_CACHE_OPTION_NAMES } from './options.js';
export type { SnapshotOptions } from './snapshot/options.js';
export type { SnapshotLoadReport, SnapshotReport, SnapshotSkip, SnapshotStats, SnapshotWriteReport } from './snapshot/snapshots.js';
export { murmur2, partitionFor } from './partitioner.js';
// Option checks with the cache's messages and InvalidOptionError, for adapters' own options.
export {
  bool as booleanOption,
  describe as describeValue,
  fail as invalidOption,
  integer as integerOption,
  noUnknownKeys as rejectUnknownOptions,
  oneOf as oneOfOption,
  plainObject as objectOption,
  string as stringOption,
} from './validate.js';
export {
  claimRecordKey,
  clearRecordKey,
  tagRecordKey,
  MAX_TAGS,
  HEADERS,
  parseRecord,
  recordCodecName,
  RECORD_FORMAT_VERSION,
  RecordRejection,
  type LogRecord,
  type OutgoingRecord,
  type ParsedClaim,
  type ParsedRecord,
  type RejectReason,
} from './record.js';
export { NearCacheKeyvStore, type NearCacheKeyvStoreOptions } from './keyv.js';
export { encryptedCodec, recordSigner, SIGNATURE_HEADER, type EncryptionOptions, type RecordSigner, type SigningOptions } from './crypto.js';
// The HTTP response entry format and rules shared by the framework adapters (Express, Nest).
export {
  decodeHttpEntry,
  encodeHttpEntry,
  HTTP_DEFAULT_PREFIX,
  HTTP_ENTRY_OVERHEAD_BYTES,
  HTTP_ENTRY_VERSION,
  HTTP_NEVER_SERVED_HEADERS,
  HTTP_STORED_HEADERS,
  httpDecodedBodyStats,
  httpEntryWrites,
  httpVariantKey,
  setHttpDecodedBodyBytes,
  isHttpCachedResponse,
  isHttpVaryIndex,
  lookupHttpEntry,
  maxHttpBodyBytes,
  parseVaryHeader,
  type DecodedHttpResponse,
  type HttpCachedResponse,
  type HttpCacheEntry,
  type HttpCacheMethod,
  type HttpHeaderValue,
  type HttpRequestHeaders,
  type HttpResponseToStore,
  type HttpVaryIndex,
} from './http/entry.js';
export {
  computeEtag,
  firstHeaderValue,
  httpConditionals,
  ifNoneMatchMatches,
  isNotModified,
  parseCacheControl,
  type HttpConditionals,
} from './http/conditional.js';
export { HttpPathIndex, httpEntryBytes, httpPathBudget, httpPathByteBudget, httpPathGroup, type HttpIndexedCache } from './http/budget.js';
export {
  HttpResponseStore,
  largestHttpBody,
  type HttpFinishedResponse,
  type HttpMiss,
  type HttpStoreCache,
  type HttpStored,
  type HttpStoreLog,
  type HttpStoreSettings,
} from './http/store.js';
export { HttpLoad, type HttpLeasingCache, type HttpStoreLease } from './http/leases.js';
export {
  guardHttpResponse,
  HTTP_NO_GRACE,
  httpGraceSettings,
  httpStaleKey,
  httpTagsOf,
  httpTagsOption,
  httpWriteOptions,
  type HttpGraceSettings,
  type HttpGuarded,
  type HttpGuardingCache,
  type HttpTagsOption,
} from './http/grace.js';
export {
  HTTP_DEFAULT_SESSION_WAIT,
  HTTP_MUTATING_METHODS,
  HTTP_SESSION_HEADER,
  httpSessionSettings,
  HttpSessions,
  type HttpSessionCache,
  type HttpSessionCounts,
  type HttpSessionGate,
  type HttpSessionLog,
  type HttpSessionOptions,
  type HttpSessionSettings,
} from './http/session.js';
export { httpHitResponse, httpRequestBypassesCache, httpStoreRefusal, type HttpHitAnswer, type HttpStoreCheck } from './http/policy.js';
export {
  HTTP_CREDENTIAL_HEADERS,
  HTTP_DEFAULT_CREDENTIAL_POLICY,
  httpAdmission,
  httpCredentialPolicy,
  httpCredentialRefusal,
  httpRequestCredentials,
  isSharedResponse,
  type HttpAdmission,
  type HttpCredentialPolicy,
} from './http/credentials.js';
export { lookupSharedHttpEntry } from './http/lookup.js';
export { httpCacheKey, httpOrigin, httpQueryPolicy, httpRequestKey, normaliseHttpTarget, type HttpKeyRequest, type HttpQueryKeyPolicy } from './http/keys.js';
export { registerStoredHttpHeaders, servedHttpHeaders } from './http/served-headers.js';
export { warnUnsignedHttpCache } from './http/unsigned.js';
export {
  httpPrefixInvalidation,
  httpInvalidationWrites,
  runHttpInvalidation,
  HTTP_INVALIDATION_MAX_DELETES,
  invalidateHttpPrefix,
  invalidateHttpRoute,
  type HttpInvalidateOptions,
  type HttpInvalidationTarget,
  httpRouteInvalidation,
  type HttpInvalidation,
} from './http/invalidation.js';
