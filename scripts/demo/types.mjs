// The shapes the demo's modules pass each other (JSDoc types only).

/**
 * An instance of the example service, whichever kind runs it (instances.mjs).
 * @typedef {object} Instance
 * @property {string} name
 * @property {'nest' | 'express'} framework
 * @property {number} port
 * @property {string} url
 * @property {string} where            where it runs, for the report
 * @property {boolean} isProcess       whether killing it kills a process
 * @property {number | undefined} [pid]      its process (child processes only)
 * @property {string} [logFile]        its log (child processes only)
 * @property {string} [lastHealth]     what its last health probe saw
 * @property {() => Promise<void>} start
 * @property {() => boolean} alive
 * @property {() => Promise<void>} kill
 * @property {() => Promise<void>} stop
 * @property {() => string} exitReason
 * @property {() => string | undefined} failureDetails
 */

/**
 * Where the instances replicate (replication-log.mjs).
 * @typedef {{ mode: 'kafka', brokers: string, external?: boolean, label: string } | { mode: 'in-process', label: string }} LogChoice
 */

/**
 * An answer of an instance (http.mjs): the body parsed as JSON where it is JSON.
 * @typedef {object} Answer
 * @property {number} status
 * @property {string | null} servedFrom   the X-Served-From header
 * @property {any} body
 * @property {number} ms                  round trip
 * @property {number | undefined} serverMs  the instance's own time (Server-Timing)
 */

/**
 * What every step receives (run.mjs).
 * @typedef {object} Demo
 * @property {Instance[]} instances
 * @property {any} example                the example app's built entry point
 * @property {LogChoice} log
 * @property {import('./lifecycle.mjs').Lifecycle} lifecycle
 * @property {(instance: Instance) => string} label
 * @property {string} page                the page the scenario requests
 * @property {{ value: string, page: string }} keys  the cache keys of its product and of its page
 * @property {number} replicationDeadlineMs
 */

export {};
