// A minimal Kafka wire-protocol client: one request per fresh socket, non-flexible versions only,
// enough to probe brokers and warm up their coordinators.
import net from 'node:net';

/**
 * Minimal reader over a Kafka response body (non-flexible versions only).
 */
export class ResponseReader {
  /** @param {Buffer} buf */
  constructor(buf) {
    this.buf = buf;
    this.offset = 0;
  }

  int8() {
    const v = this.buf.readInt8(this.offset);
    this.offset += 1;
    return v;
  }

  int16() {
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  int32() {
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  /** @returns {string | null} */
  string() {
    const len = this.int16();
    if (len < 0) return null;
    const v = this.buf.toString('utf8', this.offset, this.offset + len);
    this.offset += len;
    return v;
  }
}

/**
 * Encodes a Kafka string (int16 length + UTF-8 bytes).
 * @param {string} value
 * @returns {Buffer}
 */
function encodeString(value) {
  const bytes = Buffer.from(value, 'utf8');
  const len = Buffer.alloc(2);
  len.writeInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

/**
 * Sends one request (header v1, i.e. a non-flexible API version) to a broker
 * on 127.0.0.1 over a fresh socket and returns the response body.
 *
 * @param {number} port
 * @param {{ apiKey: number, apiVersion: number, body: Buffer, timeoutMs?: number }} request
 * @returns {Promise<ResponseReader>} positioned after the correlation id
 */
export function kafkaRequest(port, { apiKey, apiVersion, body, timeoutMs = 3000 }) {
  const correlationId = 1;
  const header = Buffer.alloc(8);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(apiVersion, 2);
  header.writeInt32BE(correlationId, 4);
  const payload = Buffer.concat([header, encodeString('local-kafka-probe'), body]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);

  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    /** @param {Error} err */
    const fail = (err) => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error('timeout')));
    socket.once('error', fail);
    socket.once('connect', () => socket.write(Buffer.concat([size, payload])));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4 || received.length < 4 + received.readInt32BE(0)) return;
      socket.destroy();
      const reader = new ResponseReader(received.subarray(4, 4 + received.readInt32BE(0)));
      if (reader.int32() !== correlationId) reject(new Error('unexpected correlation id'));
      else resolve(reader);
    });
    socket.once('end', () => fail(new Error('connection closed')));
  });
}

/**
 * Metadata v4 for no topics: which brokers are registered and unfenced.
 * @param {number} port
 * @param {number} [timeoutMs]
 * @returns {Promise<{ brokers: number[], controllerId: number, clusterId: string | null }>}
 */
export async function probeBroker(port, timeoutMs = 3000) {
  const body = Buffer.alloc(5);
  body.writeInt32BE(0, 0); // topics: empty array
  body.writeInt8(0, 4); // allow_auto_topic_creation: false
  const r = await kafkaRequest(port, { apiKey: 3, apiVersion: 4, body, timeoutMs });
  r.int32(); // throttle_time_ms
  const brokers = [];
  for (let i = r.int32(); i > 0; i--) {
    brokers.push(r.int32());
    r.string(); // host
    r.int32(); // port
    r.string(); // rack
  }
  const clusterId = r.string();
  const controllerId = r.int32();
  return { brokers, controllerId, clusterId };
}

/**
 * FindCoordinator v1; asking creates the internal __consumer_offsets
 * (keyType 0, group) or __transaction_state (keyType 1) topic if missing.
 * @param {number} port
 * @param {string} key
 * @param {0 | 1} keyType
 * @returns {Promise<{ errorCode: number, nodeId: number }>}
 */
export async function findCoordinator(port, key, keyType) {
  const body = Buffer.concat([encodeString(key), Buffer.from([keyType])]);
  const r = await kafkaRequest(port, { apiKey: 10, apiVersion: 1, body });
  r.int32(); // throttle_time_ms
  const errorCode = r.int16();
  r.string(); // error_message
  return { errorCode, nodeId: r.int32() };
}

/**
 * InitProducerId v1 without a transactional id (what an idempotent producer
 * sends first); the first one makes the broker fetch a producer-id block.
 * @param {number} port
 * @returns {Promise<{ errorCode: number }>}
 */
export async function initProducerId(port) {
  const body = Buffer.alloc(6);
  body.writeInt16BE(-1, 0); // transactional_id: null
  body.writeInt32BE(60_000, 2); // transaction_timeout_ms
  const r = await kafkaRequest(port, { apiKey: 22, apiVersion: 1, body });
  r.int32(); // throttle_time_ms
  return { errorCode: r.int16() };
}
