import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createNearCache, InProcessBroker, inProcessLog, silentLogger, type NearCache } from '@nearcache/core';
import { PrometheusMetrics } from '../../apps/example/src/index.js';
import { waitFor } from '../helpers/wait.js';

// The Grafana dashboard of docs/operations.md (docs/grafana/nearcache-dashboard.json) reads only
// metrics and labels that the example's /metrics endpoint serves.

interface Dashboard {
  uid: string;
  templating: { list: Array<{ name: string; definition?: string }> };
  panels: Array<{ id: number; title: string; targets: Array<{ expr: string; legendFormat: string }> }>;
}

const dashboard = JSON.parse(readFileSync(new URL('../../docs/grafana/nearcache-dashboard.json', import.meta.url), 'utf8')) as Dashboard;
/** Labels Prometheus adds itself: the scrape target's, and the histogram buckets'. */
const SCRAPE_LABELS = ['instance', 'le'];

let cache: NearCache | undefined;
let metrics: PrometheusMetrics | undefined;
let server: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  await cache?.close();
  await metrics?.close();
});

/** The exposition text of a cache that saw every kind of event the dashboard shows. */
async function exposition(): Promise<string> {
  const broker = new InProcessBroker();
  broker.createTopic('dashboard', { partitions: 2 });
  cache = createNearCache({ topic: 'dashboard', log: inProcessLog(broker), logger: silentLogger, max: 1 });
  await cache.ready();
  metrics = new PrometheusMetrics();
  metrics.instrument(cache, 'catalog');
  await cache.wrap('a', () => 1); // a miss and a load
  cache.get('a'); // a hit
  await cache.set('b', 2); // evicts a
  await cache.delete('b');
  await cache.clear();
  await cache.wrap('c', () => Promise.reject(new Error('down'))).catch(() => undefined); // a failed load
  broker.produce('dashboard', [{ partition: 0, key: 'no-headers', value: Buffer.from('x'), headers: {} }]);
  await waitFor(() => cache!.stats().records.rejected === 1, { timeout: 5000, message: 'the malformed record rejected' });
  const open = (server = createServer((req, res) => metrics!.handle(req, res)));
  await new Promise<void>((resolve) => open.listen(0, '127.0.0.1', resolve));
  const response = await fetch(`http://127.0.0.1:${(open.address() as { port: number }).port}/metrics`);
  expect(response.status).toBe(200);
  return response.text();
}

describe('the Grafana dashboard', () => {
  it('has unique panel ids and queries only metrics and labels the exporter serves', async () => {
    expect(dashboard.uid).toBe('nearcache');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const text = await exposition();
    const served = new Set([...text.matchAll(/^([a-z_]+)\{/gm)].map((m) => m[1]!));
    const labels = new Set([...text.matchAll(/[{,]([a-z_]+)="/g)].map((m) => m[1]!));

    const queries = [...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...dashboard.templating.list.map((v) => v.definition ?? '')];
    const used = new Set(queries.flatMap((q) => [...q.matchAll(/\b(nearcache_[a-z_]+)\{/g)].map((m) => m[1]!)));
    expect(used.size).toBeGreaterThanOrEqual(12);
    expect([...used].filter((name) => !served.has(name))).toEqual([]);

    const grouped = queries.flatMap((q) => [...q.matchAll(/by \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim())));
    const legends = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => [...t.legendFormat.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]!)));
    const missing = [...new Set([...grouped, ...legends])].filter((label) => !SCRAPE_LABELS.includes(label) && !labels.has(label));
    expect(missing).toEqual([]);
  });
});
