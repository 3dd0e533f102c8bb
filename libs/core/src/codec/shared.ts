// Helpers of the codecs: bytes as a Buffer, how a refused value and its place are named.

export function asBytes(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** How a refused object is named in error messages. */
export function describeObject(value: object): string {
  let proto: unknown;
  let name: unknown;
  try {
    proto = Object.getPrototypeOf(value);
    name = proto === null ? undefined : (proto as { constructor?: { name?: unknown } }).constructor?.name;
  } catch {
    return 'an object of an unknown kind';
  }
  if (proto === null) return 'an object with a null prototype (copy it into a plain object, such as { ...value })';
  if (typeof name !== 'string' || name === '') return 'an object of an unnamed class (its prototype would be lost)';
  if (name === 'WeakMap' || name === 'WeakSet' || name === 'WeakRef' || name === 'Promise') return `a ${name}`;
  if (value instanceof Error) return `an Error of class ${name} (only Error and the standard error classes keep their class)`;
  return `an instance of class ${name} (its prototype and methods would be lost on other instances; cache a plain object, or use a codec that knows the class)`;
}

/** Marks a path segment that is not a property (a Map's key or value, a Set's item). */
export const ENTRY = '\u0000';

/** "value", "value.a[2]", "value.map<key 0>"... for error messages. */
export function formatPath(path: Array<string | number>): string {
  let text = 'value';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else if (part.startsWith(ENTRY)) text += part.slice(1);
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) text += `.${part}`;
    else text += `[${JSON.stringify(part.length > 40 ? `${part.slice(0, 40)}...` : part)}]`;
  }
  return text;
}

export function atKey(key: string): string {
  return key ? ` (at key "${key}")` : '';
}
