import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/** A product of the catalogue. */
export interface Product {
  id: string;
  name: string;
  price: number;
  stock: number;
  updatedAt: string;
}

/** What an update may change. */
export interface ProductChanges {
  name?: string;
  price?: number;
  stock?: number;
}

/** Thrown by `Catalog.get` and `Catalog.update` for an id the catalogue does not have. */
export class ProductNotFoundError extends Error {
  static readonly code = 'PRODUCT_NOT_FOUND';
  readonly code = ProductNotFoundError.code;

  constructor(readonly id: string) {
    super(`no product ${JSON.stringify(id)}`);
    this.name = 'ProductNotFoundError';
  }
}

/** Thrown by `Catalog.update` for changes it cannot apply. */
export class InvalidProductChangesError extends Error {
  static readonly code = 'INVALID_PRODUCT_CHANGES';
  readonly code = InvalidProductChangesError.code;

  constructor(message: string) {
    super(message);
    this.name = 'InvalidProductChangesError';
  }
}

/** Where the products live. Instances that share a store see each other's updates. */
export interface ProductStore {
  read(id: string): Promise<Product | undefined>;
  write(product: Product): Promise<void>;
}

/** Ids are short decimal strings: anything else is not a product (and never a path). */
const ID = /^[0-9]{1,6}$/;

const NAMES = ['Desk lamp', 'Office chair', 'Standing desk', 'Monitor arm', 'Keyboard', 'Mouse', 'Headset', 'Webcam', 'Notebook', 'Pen set'];
const FINISHES = ['black', 'white', 'oak', 'walnut', 'steel'];

/** The products every store starts with: ids 1 to `count`, the same on every instance. */
export function seedProducts(count = 100): Product[] {
  const products: Product[] = [];
  for (let i = 1; i <= count; i++) {
    const name = NAMES[(i - 1) % NAMES.length]!;
    const finish = FINISHES[Math.floor((i - 1) / NAMES.length) % FINISHES.length]!;
    products.push({
      id: String(i),
      name: `${name}, ${finish}`,
      price: 19 + ((i * 37) % 200),
      stock: (i * 13) % 50,
      updatedAt: new Date(Date.UTC(2026, 0, 1)).toISOString(),
    });
  }
  return products;
}

/** Products in this process's memory: shared by the instances of one process only. */
export class MemoryProductStore implements ProductStore {
  readonly #products = new Map<string, Product>();

  constructor(products: Product[] = seedProducts()) {
    for (const product of products) this.#products.set(product.id, { ...product });
  }

  async read(id: string): Promise<Product | undefined> {
    const product = this.#products.get(id);
    return product === undefined ? undefined : { ...product };
  }

  async write(product: Product): Promise<void> {
    this.#products.set(product.id, { ...product });
  }
}

/**
 * Products as JSON files in a directory (`<dir>/<id>.json`): shared by every process that
 * uses the same directory, like a database shared by the instances of a service.
 */
export class FileProductStore implements ProductStore {
  constructor(readonly dir: string) {}

  /** Creates the directory and the files of the products it does not have yet; safe to run from several processes at once. */
  static seed(dir: string, products: Product[] = seedProducts()): FileProductStore {
    fs.mkdirSync(dir, { recursive: true });
    for (const product of products) {
      const file = path.join(dir, `${product.id}.json`);
      if (fs.existsSync(file)) continue;
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(product));
      try {
        fs.linkSync(tmp, file); // atomic: fails if another process created it meanwhile
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    }
    return new FileProductStore(dir);
  }

  async read(id: string): Promise<Product | undefined> {
    try {
      return JSON.parse(await fsp.readFile(path.join(this.dir, `${id}.json`), 'utf8')) as Product;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async write(product: Product): Promise<void> {
    const file = path.join(this.dir, `${product.id}.json`);
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await fsp.writeFile(tmp, JSON.stringify(product));
    await fsp.rename(tmp, file); // readers see the old or the new product, never half of one
  }
}

export interface CatalogOptions {
  /** Time every lookup and every update takes, in ms. Default 50. */
  delayMs?: number;
  /** Called at each lookup (to attribute it to the request being served). */
  onRead?: (id: string) => void;
}

/**
 * The deliberately slow data source of the example: every lookup and every update waits
 * `delayMs` (50 ms by default), as a query to a remote database would. It counts its calls,
 * so that one can see which requests reached it and which the cache answered.
 */
export class Catalog {
  readonly delayMs: number;
  /** Lookups made by this instance. */
  reads = 0;
  /** Updates made by this instance. */
  writes = 0;
  readonly #onRead: ((id: string) => void) | undefined;

  constructor(
    readonly store: ProductStore,
    options: CatalogOptions = {},
  ) {
    this.delayMs = options.delayMs ?? 50;
    this.#onRead = options.onRead;
  }

  /** The product `id`; rejects with `ProductNotFoundError` when there is none. Takes `delayMs`. */
  async get(id: string): Promise<Product> {
    this.reads++;
    this.#onRead?.(id);
    await this.#delay();
    const product = ID.test(id) ? await this.store.read(id) : undefined;
    if (product === undefined) throw new ProductNotFoundError(id);
    return product;
  }

  /** Applies `changes` to the product `id` and returns the new product. Takes `delayMs`. */
  async update(id: string, changes: ProductChanges): Promise<Product> {
    const clean = checkChanges(changes);
    this.writes++;
    await this.#delay();
    const current = ID.test(id) ? await this.store.read(id) : undefined;
    if (current === undefined) throw new ProductNotFoundError(id);
    const product: Product = { ...current, ...clean, updatedAt: new Date().toISOString() };
    await this.store.write(product);
    return product;
  }

  #delay(): Promise<void> {
    return this.delayMs > 0 ? new Promise((resolve) => setTimeout(resolve, this.delayMs)) : Promise.resolve();
  }
}

function checkChanges(changes: unknown): ProductChanges {
  if (typeof changes !== 'object' || changes === null || Array.isArray(changes)) {
    throw new InvalidProductChangesError('the body must be a JSON object such as {"price": 35}');
  }
  const input = changes as Record<string, unknown>;
  const clean: ProductChanges = {};
  for (const [field, value] of Object.entries(input)) {
    if (field === 'name') {
      if (typeof value !== 'string' || value.length === 0 || value.length > 200)
        throw new InvalidProductChangesError('name must be a string of 1 to 200 characters');
      clean.name = value;
    } else if (field === 'price') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new InvalidProductChangesError('price must be a number >= 0');
      clean.price = value;
    } else if (field === 'stock') {
      if (!Number.isInteger(value) || (value as number) < 0) throw new InvalidProductChangesError('stock must be an integer >= 0');
      clean.stock = value as number;
    } else {
      throw new InvalidProductChangesError(`unknown field ${JSON.stringify(field)}: name, price and stock can be changed`);
    }
  }
  if (Object.keys(clean).length === 0) throw new InvalidProductChangesError('nothing to change: give name, price or stock');
  return clean;
}
