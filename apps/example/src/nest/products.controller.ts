import { BadRequestException, Body, Controller, Get, NotFoundException, Param, Put, UseInterceptors } from '@nestjs/common';
import { CacheEvict, NearCacheInterceptor } from '@nearcache/nestjs';
import { InvalidProductChangesError, ProductNotFoundError, type Product, type ProductChanges } from '../catalog/catalog.js';
import { pageKey } from '../shared/keys.js';
import { ProductsService } from './products.service.js';

@Controller('products')
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  /**
   * The page of a product. The interceptor stores the response under `http:GET <url>`, as the
   * Express middleware does: a hit on every instance, Nest or Express.
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
   * Updates a product. The service evicts the product's value, this evicts its page, on every
   * instance. (Pages of the product with a query string, `/products/1?lang=fr`, are other keys:
   * the Express app removes them too, with `invalidateRoute`.)
   */
  @Put(':id')
  @CacheEvict({ key: pageKey })
  async updateProduct(@Param('id') id: string, @Body() changes: ProductChanges): Promise<Product> {
    try {
      return await this.products.updateProduct(id, changes);
    } catch (error) {
      throw httpError(error);
    }
  }
}

function httpError(error: unknown): unknown {
  if (error instanceof ProductNotFoundError) return new NotFoundException(error.message);
  if (error instanceof InvalidProductChangesError) return new BadRequestException(error.message);
  return error;
}
