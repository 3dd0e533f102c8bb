// What the sidecar tells about itself: the INFO text (Redis format, with a nearcache section),
// the /health answer and the /metrics page (Prometheus text format).
import type { CacheStats } from '@nearcache/core';
import { REDIS_COMPATIBILITY } from './commands/server.js';
import type { CommandCounters } from './connection.js';

export const SIDECAR_VERSION = '0.1.0';

export interface SidecarFigures {
  stats: CacheStats;
  clients: number;
  maxClients: number;
  connectionsTotal: number;
  rejectedConnections: number;
  counters: CommandCounters;
  startedAt: number;
  port: number | undefined;
}

function lag(stats: CacheStats): { records: number; ms: number } {
  let records = 0;
  let ms = 0;
  for (const p of stats.partitions) {
    records += p.lagRecords;
    ms = Math.max(ms, p.lagMs);
  }
  return { records, ms };
}

/** Whether the sidecar serves: live, or degraded (the log unreachable, the entries here still served). */
export function isHealthy(stats: CacheStats): boolean {
  return stats.state === 'live' || stats.state === 'degraded';
}

/** The /health body. */
export function health(stats: CacheStats): Record<string, unknown> {
  const { records, ms } = lag(stats);
  return {
    state: stats.state,
    topic: stats.topic,
    instanceId: stats.instanceId,
    entries: stats.entries,
    lag: { records, ms },
    queueDepth: stats.queue.depth,
    ...(stats.startError ? { startError: stats.startError } : {}),
  };
}

/** The INFO text of `sections` (all of them when empty), lines separated by CRLF as Redis writes them. */
export function infoText(figures: SidecarFigures, sections: readonly string[]): string {
  const { stats } = figures;
  const { records, ms } = lag(stats);
  const all: Record<string, [string, string | number][]> = {
    server: [
      ['redis_version', REDIS_COMPATIBILITY],
      ['nearcache_version', SIDECAR_VERSION],
      ['redis_mode', 'standalone'],
      ['os', `${process.platform} ${process.arch}`],
      ['process_id', process.pid],
      ['tcp_port', figures.port ?? 0],
      ['uptime_in_seconds', Math.floor((Date.now() - figures.startedAt) / 1000)],
    ],
    clients: [
      ['connected_clients', figures.clients],
      ['maxclients', figures.maxClients],
    ],
    // Clients wait for `loading:0` before sending commands: the sidecar listens once its cache is ready.
    persistence: [['loading', isHealthy(stats) ? 0 : 1]],
    stats: [
      ['total_connections_received', figures.connectionsTotal],
      ['total_commands_processed', figures.counters.commands],
      ['rejected_connections', figures.rejectedConnections],
      ['total_error_replies', figures.counters.errors],
      ['protocol_errors', figures.counters.protocolErrors],
      ['keyspace_hits', stats.hits],
      ['keyspace_misses', stats.misses],
      ['evicted_keys', stats.evictions],
    ],
    replication: [['role', 'master']],
    nearcache: [
      ['state', stats.state],
      ['topic', stats.topic],
      ['instance_id', stats.instanceId],
      ['lag_records', records],
      ['lag_ms', ms],
      ['queue_depth', stats.queue.depth],
      ['records_applied', stats.records.applied],
      ['records_rejected', stats.records.rejected],
    ],
    keyspace: stats.entries > 0 ? [['db0', `keys=${stats.entries},expires=0,avg_ttl=0`]] : [],
  };
  const wanted = sections.length === 0 || sections.some((s) => s === 'all' || s === 'everything' || s === 'default') ? Object.keys(all) : sections;
  const out: string[] = [];
  for (const name of wanted) {
    const lines = all[name];
    if (lines === undefined) continue;
    if (out.length > 0) out.push('');
    out.push(`# ${name[0]!.toUpperCase()}${name.slice(1)}`);
    for (const [key, value] of lines) out.push(`${key}:${value}`);
  }
  return `${out.join('\r\n')}\r\n`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** The /metrics page. */
export function metricsText(figures: SidecarFigures): string {
  const { stats } = figures;
  const topic = `topic="${escapeLabel(stats.topic)}"`;
  const lines: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, value: number, labels = topic) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}{${labels}} ${value}`);
  };
  metric('nearcache_up', 'gauge', 'Whether the cache is live or degraded (1) or not serving (0).', isHealthy(stats) ? 1 : 0);
  metric('nearcache_entries', 'gauge', 'Entries held by this instance.', stats.entries);
  metric('nearcache_hits_total', 'counter', 'Reads that found an entry.', stats.hits);
  metric('nearcache_misses_total', 'counter', 'Reads that found none.', stats.misses);
  metric('nearcache_evictions_total', 'counter', 'Entries dropped locally by the size bound.', stats.evictions);
  metric('nearcache_sets_total', 'counter', 'Writes made through this instance.', stats.sets);
  metric('nearcache_deletes_total', 'counter', 'Deletes made through this instance.', stats.deletes);
  metric('nearcache_queue_depth', 'gauge', 'Writes waiting for the log.', stats.queue.depth);
  metric('nearcache_records_applied_total', 'counter', 'Records applied from the log.', stats.records.applied);
  metric('nearcache_records_rejected_total', 'counter', 'Records skipped as invalid.', stats.records.rejected);
  lines.push('# HELP nearcache_lag_records Records written and not yet applied here, per partition.', '# TYPE nearcache_lag_records gauge');
  for (const p of stats.partitions) lines.push(`nearcache_lag_records{${topic},partition="${p.partition}"} ${p.lagRecords}`);
  lines.push('# HELP nearcache_lag_ms How long each partition has been behind, in ms.', '# TYPE nearcache_lag_ms gauge');
  for (const p of stats.partitions) lines.push(`nearcache_lag_ms{${topic},partition="${p.partition}"} ${p.lagMs}`);
  metric('nearcache_sidecar_clients', 'gauge', 'Connected Redis protocol clients.', figures.clients);
  metric('nearcache_sidecar_connections_total', 'counter', 'Redis protocol connections accepted.', figures.connectionsTotal);
  metric('nearcache_sidecar_rejected_connections_total', 'counter', 'Connections refused past maxClients.', figures.rejectedConnections);
  metric('nearcache_sidecar_commands_total', 'counter', 'Redis protocol commands received.', figures.counters.commands);
  metric('nearcache_sidecar_error_replies_total', 'counter', 'Commands answered with an error.', figures.counters.errors);
  metric('nearcache_sidecar_protocol_errors_total', 'counter', 'Connections closed for a malformed request.', figures.counters.protocolErrors);
  return `${lines.join('\n')}\n`;
}
