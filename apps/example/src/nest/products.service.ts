import { Injectable } from '@nestjs/common';
import { CacheEvict, Cached } from '@nearcache/nestjs';
import { Catalog, type Product, type ProductChanges } from '../catalog/catalog.js';
import { productKey } from '../shared/keys.js';

/**
 * Products, read through the replicated cache. A product one instance loaded is a hit on every
 * instance of the service; an update evicts it everywhere.
 */
@Injectable()
export class ProductsService {
  constructor(private readonly catalog: Catalog) {}

  /** From the cache (`product:<id>`, on every instance), else from the slow data source. Errors are never cached. */
  @Cached({ key: productKey })
  async getProduct(id: string): Promise<Product> {
    return this.catalog.get(id);
  }

  /** Writes to the data source, then evicts `product:<id>` here and on every other instance. */
  @CacheEvict({ key: productKey })
  async updateProduct(id: string, changes: ProductChanges): Promise<Product> {
    return this.catalog.update(id, changes);
  }
}
