import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import type { ISocketFactory } from 'kafkajs';

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

  /** Refuses new connections and ends those left; returns how many were still open (not being closed already). */
  close(): number {
    this.#closed = true;
    let open = 0;
    for (const socket of this.#open) {
      if (!socket.writableEnded) open++;
      socket.destroy(new Error('closed by close()'));
    }
    this.#open.clear();
    return open;
  }
}
