// 14. The sidecar against redis-server: redis-benchmark's SET and GET throughput (requests per
// second, 50 clients, pipelines of 1 and 16) against a sidecar in this process and against
// redis-server, on loopback, in one run. The sidecar's cache uses the loopback log, as the other
// in-process scenarios do: what is measured is the Redis protocol front, not Kafka.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { silentLogger } from '@nearcache/core';
import { startSidecar } from '@nearcache/sidecar';
import { ensureSystemPackages, hasCommand } from '../../scripts/lib/system-packages.mjs';
import { QUICK, log, loopbackLog, median, report } from '../lib.mjs';

const run = promisify(execFile);
const REQUESTS = QUICK ? 20_000 : 100_000;
const ROUNDS = QUICK ? 1 : 3;
const CLIENTS = 50;
const PIPELINES = [1, 16];

/** Requests per second of SET and GET, from redis-benchmark's CSV. */
async function benchmark(host, port, pipeline) {
  const { stdout } = await run(
    'redis-benchmark',
    [
      '-h',
      host,
      '-p',
      String(port),
      '-t',
      'set,get',
      '-n',
      String(REQUESTS),
      '-c',
      String(CLIENTS),
      '-P',
      String(pipeline),
      '-d',
      '200',
      '-r',
      '10000',
      '--csv',
    ],
    { timeout: 300_000 },
  );
  const rps = {};
  for (const line of stdout.split('\n')) {
    const [name, value] = line.split(',').map((cell) => cell.replaceAll('"', ''));
    if (name === 'SET' || name === 'GET') rps[name.toLowerCase()] = Number(value);
  }
  return rps;
}

let skipped;
// redis-benchmark comes with redis-tools: installed with apt-get when missing (as root).
await ensureSystemPackages([{ name: 'redis-tools', present: () => hasCommand('redis-benchmark') }], (message) => log(message));
if (!hasCommand('redis-benchmark')) skipped = 'skipped: redis-benchmark not installed (Debian package redis-tools)';
const redisUrl = process.env.REDIS_URL ? new URL(process.env.REDIS_URL) : undefined;
const results = {};
if (!skipped) {
  const sidecar = await startSidecar({ port: 0, cache: { topic: 'bench.sidecar', log: loopbackLog(), maxBytes: 0, logger: silentLogger } });
  try {
    const targets = { sidecar: ['127.0.0.1', sidecar.address.port] };
    if (redisUrl) targets.redis = [redisUrl.hostname, Number(redisUrl.port)];
    for (const pipeline of PIPELINES) {
      for (const [name, [host, port]] of Object.entries(targets)) {
        const rounds = [];
        for (let r = 0; r < ROUNDS; r++) rounds.push(await benchmark(host, port, pipeline));
        const entry = { setRps: median(rounds.map((x) => x.set)), getRps: median(rounds.map((x) => x.get)) };
        results[`${name} P${pipeline}`] = entry;
        log(`sidecar scenario: ${name}, pipeline ${pipeline}: SET ${entry.setRps.toFixed(0)}/s, GET ${entry.getRps.toFixed(0)}/s`);
      }
    }
  } finally {
    await sidecar.close();
  }
}
const ratio = results['redis P1'] && results['sidecar P1'] ? results['sidecar P1'].getRps / results['redis P1'].getRps : null;
if (!skipped && ratio === null) skipped = process.env.REDIS_SKIPPED ?? 'skipped: REDIS_URL not set (no redis-server to compare with)';
report({
  scenario: 'sidecar',
  title: 'sidecar vs redis-server under redis-benchmark (SET and GET, loopback)',
  method: `redis-benchmark -t set,get -n ${REQUESTS} -c ${CLIENTS} -d 200 -r 10000, pipelines ${PIPELINES.join(' and ')}; medians of ${ROUNDS} round(s) per target; the sidecar's cache on the loopback log`,
  ratio,
  ratioLabel: 'sidecar GET rps / redis-server GET rps (pipeline 1)',
  measured: ratio === null ? skipped : `${ratio.toFixed(2)}x`,
  target: 'reported, no target',
  pass: null,
  skipped: ratio === null ? skipped : undefined,
  results,
});
