// Module hooks for worker threads running the sources: a `./x.js` import of a file that exists
// only as `./x.ts` (TypeScript's nodenext style) resolves to the `.ts` file, which SWC strips of
// its types. Packages (node_modules) load untouched.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transform } from '@swc/core';

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (!specifier.endsWith('.js') || !(specifier.startsWith('.') || specifier.startsWith('file:'))) throw error;
    const url = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
    if (url.protocol !== 'file:' || !existsSync(fileURLToPath(url))) throw error;
    return { url: url.href, format: 'module', shortCircuit: true };
  }
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts') || url.includes('/node_modules/')) return nextLoad(url, context);
  const filename = fileURLToPath(url);
  const { code } = await transform(await readFile(filename, 'utf8'), {
    filename,
    sourceMaps: 'inline',
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'es6' },
  });
  return { format: 'module', source: code, shortCircuit: true };
}
