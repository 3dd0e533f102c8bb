/**
 * The warning given when HTTP responses are cached on a topic whose records are not signed.
 */

const warnedCaches = new WeakSet<object>();

/**
 * Tells, once per cache, that HTTP responses are cached on a topic whose records are not
 * signed: whoever can write to the topic can then serve any content for any URL. Does nothing
 * when the cache signs its records.
 */
export function warnUnsignedHttpCache(cache: object, warn: (message: string) => void): boolean {
  if (warnedCaches.has(cache)) return false;
  let signed: unknown;
  let topic: unknown;
  try {
    ({ signed, topic } = cache as { signed?: unknown; topic?: unknown });
  } catch {
    // A wrapper or a test double that throws on reads: nothing to tell.
    return false;
  }
  if (signed === true) return false;
  warnedCaches.add(cache);
  warn(
    `HTTP responses are cached on topic "${String(topic)}" whose records are not signed: anyone who can write to the topic can serve any content for any cached URL, ` +
      'on every instance. Restrict writes with topic ACLs and turn on record signing (the cache option "signing", documented under "Encryption and signing" in the configuration reference)',
  );
  return true;
}
