import { InvalidOptionError } from './errors.js';

/** Small checks shared by option validators; each throws `InvalidOptionError` naming the option and what is allowed. */

/** A short description of a value for error messages: strings quoted and cut, objects by kind. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

export function fail(name: string, expected: string, value: unknown): never {
  throw new InvalidOptionError(`option "${name}" must be ${expected}, got ${describe(value)}`);
}

export function integer(name: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(name, max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`, value);
  }
  return value;
}

export function bool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(name, 'true or false', value);
  return value;
}

export function string(name: string, value: unknown, fallback: string | undefined, pattern?: RegExp, patternText?: string): string {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0) fail(name, 'a non-empty string', value);
  if (pattern && !pattern.test(value)) fail(name, patternText ?? `a string matching ${pattern}`, value);
  return value;
}

export function oneOf<T extends string>(name: string, value: unknown, fallback: T, allowed: readonly T[]): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !allowed.includes(value as T)) fail(name, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`, value);
  return value as T;
}

export function noUnknownKeys(scope: string, options: object, allowed: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new InvalidOptionError(`unknown option "${scope}${key}"; the options are: ${allowed.join(', ')}`);
    }
  }
}

export function plainObject(name: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(name, 'an object', value);
  return value as Record<string, unknown>;
}
