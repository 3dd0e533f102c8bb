// Progress output of the local clusters.

/**
 * @typedef {(message: string) => void} LogFn
 */

/** @type {LogFn} */
export const defaultLog = (message) => {
  process.stderr.write(`[kafka] ${message}\n`);
};
