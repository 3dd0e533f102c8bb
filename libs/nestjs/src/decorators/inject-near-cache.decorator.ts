import { Inject } from '@nestjs/common';
import { getNearCacheToken } from '../constants.js';

/**
 * Injects the cache called `name` (default: the default cache, which can also be injected by
 * its class, `NearCache`).
 *
 * ```ts
 * constructor(@InjectNearCache('sessions') private readonly sessions: NearCache<Session>) {}
 * ```
 */
export function InjectNearCache(name?: string): PropertyDecorator & ParameterDecorator {
  return Inject(getNearCacheToken(name));
}
