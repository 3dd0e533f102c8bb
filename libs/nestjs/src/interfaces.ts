import type { NearCacheOptions } from '@nearcache/core';
import type { NearCacheInterceptorOptions } from './interceptor-settings.js';

/**
 * Options of `NearCacheModule.forRoot()` / `forRootAsync()`: every option of `createNearCache`
 * (see the core configuration reference), plus how the application waits for the cache.
 */
export interface NearCacheModuleOptions<V = unknown> extends NearCacheOptions<V> {
  /**
   * Hold the application's start (module init) until the cache caught up with its topic.
   * Default true. With false, the application starts at once and the cache fills in the
   * background: reads miss until it is ready (see the health indicator).
   */
  waitForReady?: boolean;
  /**
   * Deadline of that wait, in ms; past it, the start fails with `BootstrapTimeoutError` and the
   * caches are closed. Default: the cache's `bootstrapTimeout` (60000).
   */
  readyTimeout?: number;
  /**
   * Settings of `NearCacheInterceptor` in this application (`prefix`, `maxBodyBytes`,
   * `statusHeader`, `storedHeaders`, `credentialHeaders`, `ignoreCookies`, `query`,
   * `maxPathEntries`, `maxPathBytes`), checked when the module starts. Give them to one
   * `forRoot()` of the application. Default: the interceptor's defaults (see docs/nestjs.md).
   */
  interceptor?: NearCacheInterceptorOptions;
}

/** Options of `NearCacheModule.forRoot()` / `forRootAsync()` that shape the module itself. */
export interface NearCacheModuleExtras {
  /** Register the cache's providers globally, so any module can inject it. Default false. */
  isGlobal?: boolean;
  /**
   * The cache's name, for several caches in one application: inject it with
   * `@InjectNearCache(name)` and use it with `@Cached({ cache: name })`. Default `default`.
   */
  name?: string;
}

/** A class that `forRootAsync({ useClass })` instantiates to get the options. */
export interface NearCacheOptionsFactory {
  createNearCacheOptions(): NearCacheModuleOptions | Promise<NearCacheModuleOptions>;
}
