import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NearCache } from '@nearcache/core';
import { instrumentNearCache } from '@nearcache/core/otel';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

/**
 * The cache's OpenTelemetry metrics in the Prometheus text format, for `GET /metrics` on the
 * app's own port (docs/operations.md, "Metrics"; a Grafana dashboard reads them). The exporter
 * starts no server of its own: the app serves its handler. Each instance has its own meter
 * provider, so that instances sharing a process (the in-process demo) report apart.
 */
export class PrometheusMetrics {
  readonly #exporter = new PrometheusExporter({ preventServerStart: true });
  readonly #provider = new MeterProvider({ readers: [this.#exporter] });

  /** Reports `cache`'s metrics, named `name` (attribute `nearcache.cache.name`). */
  instrument(cache: NearCache, name: string): void {
    instrumentNearCache(cache, { meterProvider: this.#provider, name });
  }

  /** Answers `GET /metrics`. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    this.#exporter.getMetricsRequestHandler(req, res);
  }

  close(): Promise<void> {
    return this.#provider.shutdown();
  }
}
