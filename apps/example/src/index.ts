export {
  Catalog,
  FileProductStore,
  InvalidProductChangesError,
  MemoryProductStore,
  ProductNotFoundError,
  seedProducts,
  type CatalogOptions,
  type Product,
  type ProductChanges,
  type ProductStore,
} from './catalog/catalog.js';
export { createExpressApp, startExpressInstance } from './express/app.js';
export { AppModule } from './nest/app.module.js';
export { ProductsController } from './nest/products.controller.js';
export { ProductsService } from './nest/products.service.js';
export { startNestInstance } from './nest/start.js';
export { optionsFromEnv } from './shared/env.js';
export { PrometheusMetrics } from './shared/metrics.js';
export { InstanceContext, now, type InstanceOptions, type KeyChange, type RunningInstance, type StartupStats } from './shared/instance.js';
export { pageKey, PRODUCT_PAGE, productKey, productPath } from './shared/keys.js';
export { RequestTracker, SERVED_FROM_HEADER, type LatencySummary, type ServedFrom, type ServedStats } from './shared/tracker.js';
