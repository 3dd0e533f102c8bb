import { decodeHttpEntry, httpVariantKey, isHttpVaryIndex, type DecodedHttpResponse, type HttpRequestHeaders } from './entry.js';
import { isSharedResponse, type HttpAdmission } from './credentials.js';

/**
 * Lookups of the HTTP caches: the entry a request may be served, under the rules of a shared
 * cache (see `credentials.ts`).
 */

/**
 * The cached response for a request that `admission` admitted, under the base key `base`;
 * `undefined` on a miss. Without credentials, any entry; with credentials, only an entry that is
 * shared (`Cache-Control: public` / `s-maxage`) or a variant keyed on every credential the
 * request carries.
 */
export function lookupSharedHttpEntry(
  get: (key: string) => unknown,
  base: string,
  requestHeaders: HttpRequestHeaders,
  admission: HttpAdmission,
): DecodedHttpResponse | undefined {
  const value = get(base);
  if (value === undefined) return undefined;
  const direct = decodeHttpEntry(value);
  if (direct !== undefined) return admission.credentials.length === 0 || isSharedResponse(direct.entry.headers['cache-control']) ? direct : undefined;
  if (!isHttpVaryIndex(value)) return undefined;
  const variant = decodeHttpEntry(get(httpVariantKey(base, value.vary, requestHeaders)));
  if (variant === undefined) return undefined;
  if (admission.credentials.length === 0 || admission.credentials.every((name) => value.vary.includes(name))) return variant;
  return isSharedResponse(variant.entry.headers['cache-control']) ? variant : undefined;
}
