import { BadRequestException, Body, Controller, Get, NotFoundException, Param, Put, UseInterceptors } from '@nestjs/common';
import { invalidateHttpRoute, NearCache } from '@nearcache/core';
import { NearCacheInterceptor } from '@nearcache/nestjs';
import { InvalidProductChangesError, ProductNotFoundError, type Product, type ProductChanges } from '../catalog/catalog.js';
import { productPath } from '../shared/keys.js';
import { ProductsService } from './products.service.js';

@Controller('products')
export class ProductsController {
  constructor(
    private readonly products: ProductsService,
    private readonly cache: NearCache,
  ) {}

  /**
   * The page of a product. The interceptor stores the response under
   * `http:GET <url> <scheme>://<host>`, as the Express middleware does: a hit on every instance,
   * Nest or Express.
   */
  @Get(':id')
  @UseInterceptors(NearCacheInterceptor)
  async getProduct(@Param('id') id: string): Promise<Product> {
    try {
      return await this.products.getProduct(id);
    } catch (error) {
      throw httpError(error);
    }
  }

  /**
   * Updates a product. The service evicts the product's value, this removes its pages (on every
   * host, with their query strings and variants) on every instance, as the Express app does
   * with `invalidateRoute`.
   */
  @Put(':id')
  async updateProduct(@Param('id') id: string, @Body() changes: ProductChanges): Promise<Product> {
    let product: Product;
    try {
      product = await this.products.updateProduct(id, changes);
    } catch (error) {
      throw httpError(error);
    }
    await invalidateHttpRoute(this.cache, productPath(id));
    return product;
  }
}

function httpError(error: unknown): unknown {
  if (error instanceof ProductNotFoundError) return new NotFoundException(error.message);
  if (error instanceof InvalidProductChangesError) return new BadRequestException(error.message);
  return error;
}
