import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Module boundaries: the core depends on no web framework; adapters depend on the core only.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return sources(file);
    return file.endsWith('.ts') ? [file] : [];
  });
}

/** Every module specifier a package's sources import, with whether the import is type-only. */
function imports(pkg: string): Array<{ file: string; specifier: string; typeOnly: boolean }> {
  const found: Array<{ file: string; specifier: string; typeOnly: boolean }> = [];
  for (const file of sources(path.join(root, 'libs', pkg, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+['"]([^'"]+)['"]/gm)) {
      found.push({ file: path.relative(root, file), specifier: match[3]!, typeOnly: Boolean(match[2]) });
    }
    for (const match of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g))
      found.push({ file: path.relative(root, file), specifier: match[1]!, typeOnly: false });
  }
  return found;
}

const external = (specifier: string) => !specifier.startsWith('.') && !specifier.startsWith('node:');
const packageOf = (specifier: string) => (specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);

describe('module boundaries', () => {
  it('the core imports only kafkajs, lru-cache and Node built-ins, and @opentelemetry/api in its metrics only', () => {
    const outside = imports('core').filter((i) => external(i.specifier) && !['kafkajs', 'lru-cache'].includes(packageOf(i.specifier)));
    expect(outside.map((i) => `${i.file}: ${i.specifier}`)).toEqual(['libs/core/src/telemetry/metrics.ts: @opentelemetry/api']);
  });

  it("the core's main entry never reaches its OpenTelemetry metrics (the @nearcache/core/otel entry)", () => {
    const all = imports('core');
    const reached = new Set<string>();
    const visit = (file: string) => {
      if (reached.has(file)) return;
      reached.add(file);
      for (const i of all.filter((i) => i.file === file && !i.typeOnly && i.specifier.startsWith('.'))) {
        visit(path.join(path.dirname(file), i.specifier.replace(/\.js$/, '.ts')));
      }
    };
    visit('libs/core/src/index.ts');
    expect(reached.has('libs/core/src/telemetry/channels.ts')).toBe(true);
    expect([...reached].filter((file) => file.includes('telemetry/metrics') || file.endsWith('otel.ts'))).toEqual([]);
  });

  it('the Express adapter imports Express types only, and no package but the core', () => {
    const found = imports('express').filter((i) => external(i.specifier));
    expect(found.filter((i) => packageOf(i.specifier) === 'express' && !i.typeOnly)).toEqual([]);
    expect(found.filter((i) => !['express', '@nearcache/core'].includes(packageOf(i.specifier)))).toEqual([]);
  });

  it('the Nest adapter imports Nest, its peers and the core only', () => {
    const allowed = ['@nestjs/common', '@nestjs/core', '@nestjs/terminus', 'rxjs', 'reflect-metadata', '@nearcache/core'];
    const found = imports('nestjs').filter((i) => external(i.specifier) && !allowed.includes(packageOf(i.specifier)));
    expect(found).toEqual([]);
  });

  it('the command-line tool imports the core, kafkajs and cli-progress only, and depends on them', () => {
    const allowed = ['@nearcache/core', 'kafkajs', 'cli-progress'];
    expect(imports('cli').filter((i) => external(i.specifier) && !allowed.includes(packageOf(i.specifier)))).toEqual([]);
    const manifest = JSON.parse(readFileSync(path.join(root, 'libs', 'cli', 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    expect(Object.keys(manifest.dependencies ?? {}).sort()).toEqual([...allowed].sort());
  });

  it('package manifests match: adapters depend on the core, the core on no framework', () => {
    const manifest = (pkg: string) =>
      JSON.parse(readFileSync(path.join(root, 'libs', pkg, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    expect(Object.keys(manifest('core').dependencies ?? {}).sort()).toEqual(['kafkajs', 'lru-cache']);
    const core = manifest('core') as { peerDependencies?: Record<string, string>; peerDependenciesMeta?: Record<string, { optional?: boolean }> };
    expect(Object.keys(core.peerDependencies ?? {})).toEqual(['@opentelemetry/api']);
    expect(core.peerDependenciesMeta?.['@opentelemetry/api']?.optional).toBe(true);
    expect(Object.keys(manifest('express').dependencies ?? {})).toEqual(['@nearcache/core']);
    expect(Object.keys(manifest('nestjs').dependencies ?? {})).toEqual(['@nearcache/core']);
    expect(Object.keys(manifest('sidecar').dependencies ?? {})).toEqual(['@nearcache/core']);
  });

  it('the sidecar imports the core and Node built-ins only', () => {
    expect(imports('sidecar').filter((i) => external(i.specifier) && packageOf(i.specifier) !== '@nearcache/core')).toEqual([]);
  });
});
