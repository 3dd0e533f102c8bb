// The demo's output, checks, waiting and formatting.

/** A step of the demo did not behave as it should; the message says what. */
export class DemoFailure extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'DemoFailure';
  }
}

/** A DemoFailure with `message`: what a wait that timed out throws (`waitFor(..., { error: demoFailure })`). */
export const demoFailure = (/** @type {string} */ message) => new DemoFailure(message);

/**
 * Throws a DemoFailure with `message` unless `condition` holds.
 * @param {unknown} condition
 * @param {string} message
 */
export function check(condition, message) {
  if (!condition) throw new DemoFailure(message);
}

export const say = (/** @type {string} */ line = '') => process.stdout.write(`${line}\n`);

/** @param {string} title */
export function bar(title) {
  return `${title}\n${'='.repeat(title.length)}`;
}

/** @param {string} title */
export function section(title) {
  say('');
  say(title);
}

/**
 * `0.42 ms`, `12.3 ms`, `154 ms`, `2.31 s`.
 * @param {number | null | undefined} ms
 */
export function formatMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '-';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1_000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export const formatPrice = (/** @type {unknown} */ price) => (typeof price === 'number' ? `$${price.toFixed(2)}` : String(price));

/**
 * Prints an aligned table: the first column left-aligned, the others right-aligned.
 * @param {string[]} headers
 * @param {string[][]} rows
 * @param {string} [indent]
 */
export function table(headers, rows, indent = '') {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => row[column].length)));
  const line = (/** @type {string[]} */ cells) =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ');
  say(indent + line(headers));
  say(indent + widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) say(indent + line(row));
}
