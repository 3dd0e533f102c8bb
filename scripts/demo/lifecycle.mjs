// Everything the demo starts is registered here and stopped in reverse order, whatever happens:
// a failed step, an exception, Ctrl-C or SIGTERM.
import { say } from './output.mjs';

export class Lifecycle {
  /** @type {{ what: string, run: () => Promise<unknown> | unknown }[]} */
  #cleanups = [];
  /** @type {Promise<void> | undefined} */
  #cleaning;
  /** Set by SIGINT or SIGTERM: steps stop early and the signal handler cleans up. */
  interrupted = false;
  /** Set when a step failed: cleanups keep what helps to understand it (the logs). */
  failed = false;

  /**
   * Registers what to undo; `what` completes "could not ..." when undoing fails.
   * @param {string} what
   * @param {() => Promise<unknown> | unknown} run
   */
  onCleanup(what, run) {
    this.#cleanups.push({ what, run });
  }

  /** Runs every registered cleanup once, the last registered first. */
  cleanup() {
    this.#cleaning ??= (async () => {
      while (this.#cleanups.length > 0) {
        const { what, run } = /** @type {{ what: string, run: () => unknown }} */ (this.#cleanups.pop());
        try {
          await run();
        } catch (error) {
          say(`  (could not ${what}: ${/** @type {Error} */ (error).message})`);
        }
      }
    })();
    return this.#cleaning;
  }

  /** The first SIGINT/SIGTERM cleans up and exits 130; a second one exits at once. */
  handleSignals() {
    for (const signal of ['SIGINT', 'SIGTERM']) {
      process.on(signal, () => {
        if (this.interrupted) {
          say('\nstopping at once');
          process.exit(130);
        }
        this.interrupted = true;
        say(`\n${signal === 'SIGINT' ? 'Ctrl-C' : signal}: stopping everything the demo started...`);
        this.cleanup().then(() => {
          say('stopped.');
          process.exit(130);
        });
      });
    }
  }
}
