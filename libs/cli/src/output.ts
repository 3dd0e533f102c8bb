import { inspect } from 'node:util';
import cliProgress from 'cli-progress';
import type { ParsedCommandLine } from './args.js';

/** Where a command writes, and what it reads from its environment: the process's, or a test's. */
export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: Readonly<Record<string, string | undefined>>;
  /** Aborted to end `tail` (the bin aborts it on SIGINT and SIGTERM). */
  signal?: AbortSignal;
}

/**
 * A decoded value as JSON data: what JSON has as itself; the rest tagged with its type
 * (`{ "$date": iso }`, `{ "$bigint": "12" }`, `{ "$map": [[k, v], ...] }`, `{ "$set": [...] }`,
 * `{ "$bytes": base64 }` for Buffers and typed arrays, `{ "$undefined": true }`, `{ "$number": "NaN" }`,
 * `{ "$regexp": "/a/g" }`, `{ "$error": message }`).
 */
export function toJsonValue(value: unknown, seen = new Set<object>()): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0) ? value : { $number: String(Object.is(value, -0) ? '-0' : value) };
    case 'bigint':
      return { $bigint: value.toString() };
    case 'undefined':
      return { $undefined: true };
    case 'object': {
      if (value === null) return null;
      if (seen.has(value)) return { $cycle: true };
      seen.add(value);
      try {
        if (value instanceof Date) return { $date: Number.isNaN(value.getTime()) ? null : value.toISOString() };
        if (value instanceof Map) return { $map: [...value].map(([k, v]) => [toJsonValue(k, seen), toJsonValue(v, seen)]) };
        if (value instanceof Set) return { $set: [...value].map((v) => toJsonValue(v, seen)) };
        if (ArrayBuffer.isView(value)) return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
        if (value instanceof ArrayBuffer) return { $bytes: Buffer.from(value).toString('base64') };
        if (value instanceof RegExp) return { $regexp: String(value) };
        if (value instanceof Error) return { $error: value.message };
        if (Array.isArray(value)) return value.map((v) => toJsonValue(v, seen));
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v, seen)]));
      } finally {
        seen.delete(value);
      }
    }
    default:
      return { $unsupported: typeof value };
  }
}

/** A value for people: strings as they are, anything else as Node prints it. */
export function showValue(value: unknown, oneLine: boolean): string {
  if (typeof value === 'string' && !oneLine) return value;
  return inspect(value, {
    depth: 8,
    colors: false,
    breakLength: oneLine ? Infinity : 100,
    compact: oneLine ? true : 3,
    maxStringLength: oneLine ? 200 : 100_000,
  });
}

/** A key or prefix for people: quoted, with control characters escaped. */
export function showKey(key: string | null): string {
  return key === null ? '(no key)' : JSON.stringify(key);
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function when(ms: number): string {
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : String(ms);
}

/** Rows of cells as aligned columns. */
export function table(rows: Array<Array<string | number>>, indent = '  '): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, String(cell).length)));
  return rows.map((row) => indent + row.map((cell, i) => (i === row.length - 1 ? String(cell) : String(cell).padEnd(widths[i]!))).join('  ')).join('\n');
}

export function writeJson(io: Io, data: unknown): void {
  io.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
}

/** The progress of a read: a bar on stderr, only when stderr is a terminal and the read lasts more than a moment. */
export class Progress {
  #bar: cliProgress.SingleBar | undefined;
  #timer: NodeJS.Timeout | undefined;
  #value = 0;

  constructor(io: Io, enabled: boolean, label: string, total: number, delayMs = 400) {
    if (!enabled || io.stderr.isTTY !== true || total <= 0) return;
    this.#timer = setTimeout(() => {
      this.#bar = new cliProgress.SingleBar(
        {
          stream: io.stderr as NodeJS.WritableStream,
          format: `${label} [{bar}] {percentage}% | {value}/{total} records | {eta_formatted} left`,
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      this.#bar.start(total, this.#value);
    }, delayMs);
    this.#timer.unref();
  }

  /** The bar of a command reading `ranges` whole (`--no-progress` turns it off). */
  static forRanges(io: Io, line: ParsedCommandLine, label: string, ranges: ReadonlyArray<{ earliest: number; latest: number }>): Progress {
    return new Progress(
      io,
      line.values['no-progress'] !== true,
      label,
      ranges.reduce((n, r) => n + r.latest - r.earliest, 0),
    );
  }

  update(value: number): void {
    this.#value = value;
    this.#bar?.update(value);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#bar?.stop();
    this.#bar = undefined;
  }
}
