// The `@nearcache/core/otel` entry: OpenTelemetry metrics of a cache. It imports
// `@opentelemetry/api` (an optional peer dependency); the main entry never loads it.
export {
  instrumentNearCache,
  NEARCACHE_METER_NAME,
  NEARCACHE_METRICS,
  type NearCacheInstrumentation,
  type NearCacheInstrumentationOptions,
} from './telemetry/metrics.js';
