// Types of shared.mjs, for the TypeScript tests.
export function freePort(): Promise<number>;
export function mulberry32(seed: number): () => number;
export function sleep(ms: number): Promise<void>;
export function median(values: readonly number[]): number;
