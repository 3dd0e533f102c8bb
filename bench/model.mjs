// The capacity model of docs/operations.md ("Capacity model"), as the fan-out scenario checks it.
// Inputs a user knows: instances I, writes per second W, mean record size r as stored (key, value
// and headers: `nearcache inspect` prints it), live keys K, the LRU bound `max`. Constants, which
// a user measures once on their own values and machines (here: in the smallest fleet's round):
// o, the wire bytes the broker adds per record (record framing, shares of the record batch and
// fetch response headers); c, CPU per record received; i, idle CPU of an instance (fetch polls,
// heartbeats, timers); F, the fixed memory of an instance (its Kafka clients); e, memory per
// entry. The bench measures memory as heapUsed + arrayBuffers; lru-cache takes about 28 bytes per
// slot of `max` up front (docs/operations.md, Sizing).
export const LRU_SLOT_BYTES = 28;

/**
 * Derives the constants from a measured round: `entryBytes` (e) is given (the memory scenario's
 * figure), the others come from the round.
 */
export function calibrate(round, { entryBytes, max }) {
  const W = round.writesPerSecond;
  return {
    overheadBytes: round.bytesPerSecondPerInstance / W - round.recordBytes,
    cpuUsPerRecord: (round.cpuUsPerSecondPerInstance - round.idleCpuUsPerSecondPerInstance) / W,
    idleCpuUsPerSecond: round.idleCpuUsPerSecondPerInstance,
    fixedBytes: round.memoryBytesPerInstance - LRU_SLOT_BYTES * max - entryBytes * round.keys,
    entryBytes,
    max,
  };
}

/** The model's predictions for a fleet: broker egress (B/s), CPU per instance (µs/s), memory per instance (B). */
export function predict({ instances, writers = 1, writesPerSecond: W, recordBytes: r, keys: K }, k) {
  return {
    instances,
    egressBytesPerSecond: (instances + writers) * W * (r + k.overheadBytes),
    cpuUsPerSecondPerInstance: k.idleCpuUsPerSecond + W * k.cpuUsPerRecord,
    memoryBytesPerInstance: k.fixedBytes + LRU_SLOT_BYTES * k.max + k.entryBytes * K,
  };
}
