import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import type { ISocketFactory } from 'kafkajs';

/** The error a connection still open at close() is ended with. */
export const CLOSED_BY_CLOSE = 'closed by close()';

/**
 * Every socket the adapter's own kafkajs client opens. kafkajs can leave a connection behind (a
 * consumer stopped while it joins its group rejoins later); close() ends whatever is still open
 * once its deadline passed, and no socket opens after it.
 */
export class Sockets {
  readonly #open = new Set<Socket>();
  #closed = false;

  readonly factory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
    if (this.#closed) throw new Error('the cache is closed');
    const socket = ssl
      ? tls.connect(Object.assign({ host, port }, net.isIP(host) ? {} : { servername: host }, ssl), onConnect)
      : net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    this.#open.add(socket);
    socket.once('close', () => this.#open.delete(socket));
    return socket;
  };

  /**
   * Refuses new connections and ends those left; returns how many were left connected (not being
   * closed already). Not counted: a connection destroyed already (a refused one is destroyed at
   * once and leaves the set on its `close` event, a turn later), and one still connecting (a
   * client retrying a broker that does not answer).
   */
  close(): number {
    this.#closed = true;
    let open = 0;
    for (const socket of this.#open) {
      if (socket.destroyed) continue;
      if (!socket.pending && !socket.writableEnded) open++;
      socket.destroy(new Error(CLOSED_BY_CLOSE));
    }
    this.#open.clear();
    return open;
  }
}
