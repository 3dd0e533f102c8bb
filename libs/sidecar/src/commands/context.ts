import type { NearCache } from '@nearcache/core';
import type { Reply } from '../resp/reply.js';

/** What the sidecar remembers of one client connection. */
export interface Session {
  readonly id: number;
  /** The reply protocol the client chose with HELLO (2 until then). */
  protocol: 2 | 3;
  authenticated: boolean;
  name: string | undefined;
  /** The keys a SCAN started with cursor 0 walks. */
  scan: string[] | undefined;
  /** Close the connection once this reply is written (QUIT). */
  closing: boolean;
}

/** What the server commands see of the sidecar. */
export interface SidecarView {
  /** Whether `password` is the sidecar's; true for any when none is set. */
  checkPassword(password: Buffer): boolean;
  readonly passwordRequired: boolean;
  /** The INFO text of the sections asked for (all when empty). */
  info(sections: readonly string[]): string;
}

export interface CommandContext {
  readonly cache: NearCache<unknown>;
  readonly session: Session;
  readonly sidecar: SidecarView;
}

export interface Command {
  /** Redis arity: n exactly n arguments (the name included), -n at least n. */
  readonly arity: number;
  /** Runs before authentication too. */
  readonly noAuth?: boolean;
  run(ctx: CommandContext, args: Buffer[]): Reply | Promise<Reply>;
}

export type CommandTable = Record<string, Command>;
