#!/usr/bin/env node
// The packages as users receive them: `npm pack` tarballs, checked (README, LICENSE, source maps
// with their sources, publint, arethetypeswrong), then installed with real framework packages
// into small apps outside the repository (test/compat/apps: NestJS 11 as CommonJS, NestJS 12 as
// ES modules, each on Express and Fastify, at the newest release and at the first minor line of
// each major; Express 4 as CommonJS, Express 5 as ES modules; the Express apps once inline and
// once with replication on a worker thread). Each app runs as two processes on one topic of a
// real broker: a value replicated, an HTTP response replicated (and its ETag answered with a
// 304), an eviction seen on the other process; the Nest apps also answer a health check through
// @nestjs/terminus of their major.
//
//   node test/compat/run.mjs              packages, then every app
//   node test/compat/run.mjs --packages   the package checks only
//   node test/compat/run.mjs nest11-cjs   the package checks, then the apps named
//
// Uses the brokers in KAFKA_BROKERS, or starts one local broker for the whole matrix. Prints
// one PASS/FAIL line per package and per app; exits 1 when any failed.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster } from '../../scripts/kafka/local-kafka.mjs';
import { waitFor } from '../../scripts/lib/shared.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const PACKAGES = ['core', 'nestjs', 'express', 'sidecar', 'cli'];
const bin = (name) => path.join(ROOT, 'node_modules', '.bin', name);
const log = (message) => console.log(`[compat] ${message}`);

/**
 * The apps: a template folder (`template`, else `name`), framework versions replacing the
 * template's (`versions`), what it is built with, how it starts, and which platforms it runs on.
 * The newest release of each major comes from the templates' ranges; the `-oldest` apps run the
 * first minor line of each Nest major the peer range admits.
 */
const nestPackages = (range) =>
  Object.fromEntries(['@nestjs/common', '@nestjs/core', '@nestjs/platform-express', '@nestjs/platform-fastify'].map((name) => [name, range]));
const APPS = [
  { name: 'nest11-cjs', shared: 'nest', build: true, main: 'dist/main.js', platforms: ['express', 'fastify'], kind: 'nest' },
  { name: 'nest12-esm', shared: 'nest', build: true, main: 'dist/main.js', platforms: ['express', 'fastify'], kind: 'nest' },
  {
    name: 'nest11-oldest-cjs',
    template: 'nest11-cjs',
    versions: nestPackages('~11.0.0'),
    shared: 'nest',
    build: true,
    main: 'dist/main.js',
    platforms: ['express', 'fastify'],
    kind: 'nest',
  },
  {
    name: 'nest12-oldest-esm',
    template: 'nest12-esm',
    versions: nestPackages('~12.0.0'),
    shared: 'nest',
    build: true,
    main: 'dist/main.js',
    platforms: ['express', 'fastify'],
    kind: 'nest',
  },
  // The Express apps also run with replication on a worker thread: the worker's entry file must
  // resolve from the installed package, from CommonJS and from ES modules.
  { name: 'express4-cjs', build: false, main: 'app.js', platforms: [undefined], kind: 'express', replications: ['inline', 'worker'] },
  { name: 'express5-esm', build: true, main: 'dist/app.js', platforms: [undefined], kind: 'express', replications: ['inline', 'worker'] },
];

/** Runs a command; resolves with its exit code and output. */
function run(command, args, { cwd = ROOT, env = process.env, quiet = true } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    let output = '';
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.stderr?.on('data', (chunk) => (output += chunk));
    child.on('error', (error) => resolve({ code: 1, output: `${output}${error.message}` }));
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output }));
  });
}

const tail = (text, lines = 30) => text.trim().split('\n').slice(-lines).join('\n');

async function must(label, command, args, options) {
  const result = await run(command, args, options);
  if (result.code !== 0) throw new Error(`${label} failed (exit ${result.code}):\n${tail(result.output)}`);
  return result.output;
}

// ---------------------------------------------------------------------------------------------
// Packages

async function pack(dir) {
  await must('build', bin('nx'), ['run-many', '-t', 'build', '--output-style=static'], { env: { ...process.env, NX_DAEMON: 'false' } });
  const tarballs = {};
  for (const name of PACKAGES) {
    const output = await must(`npm pack libs/${name}`, 'npm', ['pack', '--json', '--pack-destination', dir], { cwd: path.join(ROOT, 'libs', name) });
    const [info] = JSON.parse(output.slice(output.indexOf('[')));
    tarballs[name] = { file: path.join(dir, info.filename), files: info.files.map((f) => f.path) };
  }
  return tarballs;
}

/** What is wrong with a tarball's contents (README, LICENSE, source maps whose sources are missing). */
async function contentProblems(tarball) {
  const problems = [];
  const files = new Set(tarball.files);
  if (!files.has('README.md')) problems.push('no README.md');
  if (!files.has('LICENSE')) problems.push('no LICENSE');
  else {
    const extracted = await must('tar', 'tar', ['-xzOf', tarball.file, 'package/LICENSE']);
    if (extracted.trim() !== fs.readFileSync(path.join(ROOT, 'LICENSE'), 'utf8').trim()) problems.push('LICENSE differs from the repository LICENSE');
  }
  const maps = tarball.files.filter((f) => f.endsWith('.map'));
  if (maps.length > 0) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearcache-maps-'));
    try {
      await must('tar', 'tar', ['-xzf', tarball.file, '-C', dir]);
      for (const map of maps) {
        const { sources = [] } = JSON.parse(fs.readFileSync(path.join(dir, 'package', map), 'utf8'));
        for (const source of sources) {
          const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(map), source));
          if (!files.has(resolved)) problems.push(`${map} points to ${source}, not in the package`);
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return problems;
}

async function checkPackages(tarballs) {
  let ok = true;
  for (const name of PACKAGES) {
    const tarball = tarballs[name];
    const problems = await contentProblems(tarball);
    const publint = await run(bin('publint'), ['run', tarball.file, '--strict']);
    if (publint.code !== 0) problems.push(`publint:\n${tail(publint.output)}`);
    // Every resolution: node10, node16 from CommonJS and from ES modules, bundlers.
    const attw = await run(bin('attw'), [tarball.file, '--format', 'ascii']);
    if (attw.code !== 0) problems.push(`arethetypeswrong:\n${tail(attw.output, 40)}`);
    ok &&= problems.length === 0;
    console.log(
      `${problems.length === 0 ? 'PASS' : 'FAIL'} package @nearcache/${name} (${path.basename(tarball.file)}, ${tarball.files.length} files: README, LICENSE, maps with sources, publint, attw)`,
    );
    for (const problem of problems) console.log(`  ${problem.replaceAll('\n', '\n  ')}`);
  }
  return ok;
}

/** The CLI as users install it: its tarball and the core's in an empty project, then its bin run (version, help, a usage error's exit code). */
async function checkCliBin(workDir, tarballs) {
  const dir = path.join(workDir, 'cli-install');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name: 'compat-cli', private: true }, null, 2)}\n`);
  const problems = [];
  try {
    await must('npm install (cli)', 'npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', tarballs.core.file, tarballs.cli.file], { cwd: dir });
    const nearcache = path.join(dir, 'node_modules', '.bin', 'nearcache');
    const version = await run(nearcache, ['--version'], { cwd: dir });
    if (version.code !== 0 || version.output.trim() !== JSON.parse(fs.readFileSync(path.join(ROOT, 'libs', 'cli', 'package.json'), 'utf8')).version) {
      problems.push(`nearcache --version: exit ${version.code}, ${tail(version.output, 5)}`);
    }
    const help = await run(nearcache, ['help', 'verify'], { cwd: dir });
    if (help.code !== 0 || !help.output.includes('Usage: nearcache verify')) problems.push(`nearcache help verify: exit ${help.code}, ${tail(help.output, 5)}`);
    const usage = await run(nearcache, ['inspect', '--bogus'], { cwd: dir });
    if (usage.code !== 2) problems.push(`nearcache inspect --bogus: exit ${usage.code} instead of 2`);
  } catch (error) {
    problems.push(error.message);
  }
  console.log(`${problems.length === 0 ? 'PASS' : 'FAIL'} bin nearcache (installed from the tarballs: --version, help, exit code 2 on a usage error)`);
  for (const problem of problems) console.log(`  ${problem.replaceAll('\n', '\n  ')}`);
  return problems.length === 0;
}

// ---------------------------------------------------------------------------------------------
// Apps

async function installApp(app, workDir, tarballs) {
  const dir = path.join(workDir, app.name);
  fs.cpSync(path.join(HERE, 'apps', app.template ?? app.name), dir, { recursive: true });
  if (app.shared) fs.cpSync(path.join(HERE, 'apps', app.shared), path.join(dir, 'src'), { recursive: true });
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  Object.assign(manifest.dependencies, app.versions ?? {});
  manifest.name = `compat-${app.name}`;
  const ours = app.kind === 'nest' ? ['core', 'nestjs'] : ['core', 'express'];
  for (const name of ours) manifest.dependencies[`@nearcache/${name}`] = `file:${tarballs[name].file}`;
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await must(`npm install (${app.name})`, 'npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir });
  if (app.build)
    await must(`tsc (${app.name})`, process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: dir });
  const versions = {};
  for (const dependency of ['@nestjs/core', 'express', 'fastify']) {
    const file = path.join(dir, 'node_modules', dependency, 'package.json');
    if (fs.existsSync(file)) versions[dependency] = JSON.parse(fs.readFileSync(file, 'utf8')).version;
  }
  return { dir, versions };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts one process of an app; resolves once it printed `ready <port>`. */
async function startProcess(dir, main, env) {
  const port = await freePort();
  const child = spawn(process.execPath, [main], { cwd: dir, env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready after 60 s:\n${tail(output)}`)), 60_000);
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.includes(`ready ${port}`)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before it was ready:\n${tail(output)}`));
    });
  });
  await ready;
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, child, output: () => output };
}

async function stopProcess(proc) {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.child.once('exit', resolve));
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function http(method, url, headers = {}) {
  const response = await fetch(url, { method, headers });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, headers: response.headers, body };
}

/** Polls `probe` until it returns a truthy value; throws with `what` after `timeout` ms. */
async function until(what, probe, timeout = 20_000) {
  let last;
  await waitFor(async () => (last = await probe()).ok, { timeout, interval: 50, message: () => `${what}; last answer: ${JSON.stringify(last.seen)}` });
  return last;
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

const sizeOf = async (proc) => (await http('GET', `${proc.url}/size`)).body.size;

/** Waits until B holds `expected` entries: a write of A arrived (or was removed) before B is asked, so B never computes its own. */
async function untilSize(what, proc, expected) {
  await until(what, async () => {
    const size = await sizeOf(proc);
    return { ok: size === expected, seen: { size, expected } };
  });
}

/** The scenario: A writes, B sees; A caches a response, B serves it; A evicts, B sees it gone. */
async function scenario(app, a, b) {
  const v = randomUUID();
  // A value written on A is read on B.
  expect((await http('PUT', `${a.url}/value/k1?v=${v}`)).status === 200, 'PUT /value/k1 on A failed');
  await until('the value on B', async () => {
    const r = await http('GET', `${b.url}/value/k1`);
    return { ok: r.status === 200 && r.body.v === v, seen: [r.status, r.body] };
  });

  // A response computed on A is a HIT on B, with A's bytes and ETag; its ETag gets a 304.
  const before = await sizeOf(b);
  const miss = await http('GET', `${a.url}/page/1`);
  expect(
    miss.status === 200 && miss.headers.get('x-cache') === 'MISS' && miss.body.by === a.pid,
    `GET /page/1 on A: expected a MISS computed by A, got ${miss.status} ${miss.headers.get('x-cache')} ${JSON.stringify(miss.body)}`,
  );
  expect((await http('GET', `${a.url}/page/1`)).headers.get('x-cache') === 'HIT', 'the second GET /page/1 on A was not a HIT');
  await untilSize('the response stored by A to reach B', b, before + 1);
  const hit = await http('GET', `${b.url}/page/1`);
  expect(hit.status === 200 && hit.headers.get('x-cache') === 'HIT', `GET /page/1 on B: expected a HIT, got ${hit.status} ${hit.headers.get('x-cache')}`);
  expect(JSON.stringify(hit.body) === JSON.stringify(miss.body), `B served ${JSON.stringify(hit.body)}, A computed ${JSON.stringify(miss.body)}`);
  for (const name of ['etag', 'content-type', 'content-length']) {
    expect(hit.headers.get(name) === miss.headers.get(name), `B answered ${name}: ${hit.headers.get(name)}, A ${miss.headers.get(name)}`);
  }
  const notModified = await http('GET', `${b.url}/page/1`, { 'if-none-match': miss.headers.get('etag') });
  expect(
    notModified.status === 304 && notModified.headers.get('x-cache') === 'HIT',
    `If-None-Match with the ETag on B: expected a 304 HIT, got ${notModified.status} ${notModified.headers.get('x-cache')}`,
  );

  // An eviction on A is seen on B.
  expect((await http('DELETE', `${a.url}/value/k1`)).status === 200, 'DELETE /value/k1 on A failed');
  await until('the value gone on B', async () => {
    const r = await http('GET', `${b.url}/value/k1`);
    return { ok: r.status === 404, seen: [r.status, r.body] };
  });

  const held = await sizeOf(b);
  if (app.kind === 'nest') {
    // The health indicator through @nestjs/terminus, as the docs write it.
    const health = await http('GET', `${b.url}/health`);
    expect(health.status === 200 && health.body.info?.nearcache?.status === 'up', `GET /health on B: ${health.status} ${JSON.stringify(health.body)}`);
    // @Cached on A fills the cache of B; @CacheEvict on A empties it on B.
    const first = await http('GET', `${a.url}/product/9`);
    expect(first.body.by === a.pid, `GET /product/9 on A: ${JSON.stringify(first.body)}`);
    await untilSize('the @Cached value of A to reach B', b, held + 1);
    const second = await http('GET', `${b.url}/product/9`);
    expect(second.body.by === a.pid, `GET /product/9 on B: expected the value A computed, got ${JSON.stringify(second.body)}`);
    expect((await http('DELETE', `${a.url}/product/9`)).status === 200, 'DELETE /product/9 on A failed');
    await untilSize('the @CacheEvict of A to reach B', b, held);
    const third = await http('GET', `${b.url}/product/9`);
    expect(third.body.by === b.pid, `GET /product/9 on B after the eviction: expected B to compute it, got ${JSON.stringify(third.body)}`);
  } else {
    // invalidateRoute on A removes the stored response on B.
    expect((await http('DELETE', `${a.url}/page/1`)).status === 200, 'DELETE /page/1 on A failed');
    await untilSize('the invalidation of A to reach B', b, held - 1);
    const after = await http('GET', `${b.url}/page/1`);
    expect(
      after.headers.get('x-cache') === 'MISS' && after.body.by === b.pid,
      `GET /page/1 on B after the invalidation: expected a MISS computed by B, got ${after.headers.get('x-cache')} ${JSON.stringify(after.body)}`,
    );
  }
}

async function runApp(app, installed, platform, brokers, replication = 'inline') {
  const label = `${app.name}${platform ? `/${platform}` : ''}${replication === 'inline' ? '' : ` (replication: ${replication})`}`;
  const env = {
    KAFKA_BROKERS: brokers,
    TOPIC: `nc-compat-${app.name}-${platform ?? 'app'}-${replication}-${randomUUID().slice(0, 8)}`,
    REPLICATION: replication,
    ...(platform ? { PLATFORM: platform } : {}),
  };
  const versions = Object.entries(installed.versions)
    .filter(([name]) => platform !== undefined || name !== '@nestjs/core')
    .filter(([name]) => name !== 'fastify' || platform === 'fastify')
    .filter(([name]) => name !== 'express' || platform !== 'fastify')
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  const started = Date.now();
  const processes = [];
  try {
    processes.push(await startProcess(installed.dir, app.main, env));
    processes.push(await startProcess(installed.dir, app.main, env));
    await scenario(app, processes[0], processes[1]);
    console.log(`PASS app ${label} (${versions}): value, response and eviction replicated between two processes, ${Date.now() - started} ms`);
    return true;
  } catch (error) {
    console.log(`FAIL app ${label} (${versions}): ${error.message}`);
    for (const [i, proc] of processes.entries()) console.log(`  process ${i === 0 ? 'A' : 'B'} output:\n  ${tail(proc.output(), 20).replaceAll('\n', '\n  ')}`);
    return false;
  } finally {
    await Promise.all(processes.map(stopProcess));
  }
}

// ---------------------------------------------------------------------------------------------

const args = process.argv.slice(2);
const packagesOnly = args.includes('--packages');
const selected = args.filter((arg) => !arg.startsWith('--'));
const unknown = selected.filter((name) => !APPS.some((app) => app.name === name));
if (unknown.length > 0) {
  console.error(`[compat] unknown app(s) ${unknown.join(', ')}; the apps are ${APPS.map((app) => app.name).join(', ')}`);
  process.exit(2);
}
const apps = packagesOnly ? [] : APPS.filter((app) => selected.length === 0 || selected.includes(app.name));

const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nearcache-compat-'));
let cluster;
let ok;
try {
  const tarballs = await pack(workDir);
  ok = await checkPackages(tarballs);
  ok = (await checkCliBin(workDir, tarballs)) && ok;
  if (apps.length > 0) {
    log(`installing ${apps.map((app) => app.name).join(', ')} in ${workDir}`);
    const installs = await Promise.allSettled(apps.map((app) => installApp(app, workDir, tarballs)));
    let brokers = process.env.KAFKA_BROKERS;
    if (!brokers) {
      cluster = await startCluster({ nodes: 1, name: 'compat', basePort: 0, log, stopOnExit: true });
      brokers = cluster.brokers.join(',');
    }
    log(`brokers ${brokers}`);
    for (const [i, app] of apps.entries()) {
      const install = installs[i];
      if (install.status === 'rejected') {
        console.log(`FAIL app ${app.name}: ${install.reason.message}`);
        ok = false;
        continue;
      }
      for (const platform of app.platforms) {
        for (const replication of app.replications ?? ['inline']) ok = (await runApp(app, install.value, platform, brokers, replication)) && ok;
      }
    }
  }
} catch (error) {
  console.log(`FAIL compat: ${error.message}`);
  ok = false;
} finally {
  if (cluster) await cluster.stop();
  fs.rmSync(workDir, { recursive: true, force: true });
}
log(ok ? 'all passed' : 'some failed');
process.exit(ok ? 0 : 1);
