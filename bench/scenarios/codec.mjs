// 9. codec: encode and decode cost and encoded size of the candidate codecs, for the bench's
// 200 B value and a 5 KB row-like object with dates; and whether each gives the value back
// exactly (same types, prototypes and contents). The default codec's cost on the 200 B value is
// compared with raw JSON (Buffer.from(JSON.stringify(v)) and JSON.parse(buf.toString())). Raw JSON
// runs twice among the candidates (the second copy a function of its own): the A/A comparison.
import { isDeepStrictEqual } from 'node:util';
import v8 from 'node:v8';
import { jsonCodec, structuredCodec } from '@nearcache/core';
import { QUICK, check, fact, log, makeRow, makeValue, median, noise, now, report, verdictFields } from '../lib.mjs';

const ROUNDS = QUICK ? 7 : 15;
const DISTINCT = 500;

// Values as an application holds them after building them (a template literal leaves cons strings that the first encode flattens).
const values = {
  '200 B': Array.from({ length: DISTINCT }, (_, i) => JSON.parse(JSON.stringify(makeValue(i)))),
  '5 KB with dates': Array.from({ length: DISTINCT }, (_, i) => v8.deserialize(v8.serialize(makeRow(i)))),
};
const OPS = { '200 B': QUICK ? 20_000 : 50_000, '5 KB with dates': QUICK ? 2_000 : 5_000 };
/** Operations per turn of a candidate inside a round. */
const CHUNK = { '200 B': 500, '5 KB with dates': 50 };

/** The candidates: name -> { encode, decode }. msgpackr joins when it is installed (`npm install --no-save msgpackr`). */
const candidates = {
  'raw JSON': { encode: (v) => Buffer.from(JSON.stringify(v), 'utf8'), decode: (b) => JSON.parse(b.toString('utf8')) },
  'structured (default)': structuredCodec(),
  'json codec': jsonCodec(),
  'v8 serialize': { encode: (v) => v8.serialize(v), decode: (b) => v8.deserialize(b) },
  'raw JSON (A/A copy)': { encode: (v) => Buffer.from(JSON.stringify(v), 'utf8'), decode: (b) => JSON.parse(b.toString('utf8')) },
};
try {
  const { Packr } = await import('msgpackr');
  const packr = new Packr({ useRecords: false, moreTypes: true, mapsAsObjects: false });
  candidates.msgpackr = { encode: (v) => packr.pack(v), decode: (b) => packr.unpack(b) };
} catch {
  log('codec: msgpackr is not installed; measuring without it');
}

let sink = 0;
function timeEncode(codec, list, from, count) {
  const t0 = now();
  for (let i = from; i < from + count; i++) sink += codec.encode(list[i % list.length]).length;
  return now() - t0;
}
function timeDecode(codec, encoded, from, count) {
  const t0 = now();
  for (let i = from; i < from + count; i++) if (codec.decode(encoded[i % encoded.length]) !== undefined) sink++;
  return now() - t0;
}

/**
 * One round: the candidates take turns on chunks of CHUNK operations (the order rotating from
 * chunk to chunk), so a change in the machine's load during the round hits them all alike.
 * Returns ns per operation, per candidate.
 */
function round(names, list, encoded, ops, chunk) {
  const enc = Object.fromEntries(names.map((n) => [n, 0n]));
  const dec = Object.fromEntries(names.map((n) => [n, 0n]));
  for (let from = 0, c = 0; from < ops; from += chunk, c++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + c) % names.length];
      enc[name] += timeEncode(candidates[name], list, from, chunk);
      dec[name] += timeDecode(candidates[name], encoded[name], from, chunk);
    }
  }
  return Object.fromEntries(names.map((n) => [n, { encode: Number(enc[n]) / ops, decode: Number(dec[n]) / ops }]));
}

const cases = [];
for (const [kind, list] of Object.entries(values)) {
  const ops = OPS[kind];
  const names = Object.keys(candidates);
  const encoded = {},
    exact = {},
    bytes = {};
  for (const name of names) {
    const codec = candidates[name];
    encoded[name] = list.map((v) => Buffer.from(codec.encode(v)));
    bytes[name] = median(encoded[name].map((b) => b.length));
    exact[name] = list.every((v, i) => {
      const back = codec.decode(encoded[name][i]);
      // Strict deep equality compares types and prototypes too (a Date is not its ISO string).
      return isDeepStrictEqual(back, v);
    });
    // Warm-up, unmeasured.
    timeEncode(codec, list, 0, Math.min(ops, 2000));
    timeDecode(codec, encoded[name], 0, Math.min(ops, 2000));
  }
  const enc = Object.fromEntries(names.map((n) => [n, []]));
  const dec = Object.fromEntries(names.map((n) => [n, []]));
  // Per round, the default's encode + decode over raw JSON's, measured side by side.
  const ratios = [];
  const aaRatios = [];
  for (let r = 0; r < ROUNDS; r++) {
    const result = round(names, list, encoded, ops, CHUNK[kind]);
    for (const name of names) {
      enc[name].push(result[name].encode);
      dec[name].push(result[name].decode);
    }
    const ours = result['structured (default)'],
      raw = result['raw JSON'];
    ratios.push((ours.encode + ours.decode) / (raw.encode + raw.decode));
    const raw2 = result['raw JSON (A/A copy)'];
    aaRatios.push((raw2.encode + raw2.decode) / (raw.encode + raw.decode));
  }
  const results = names.map((name) => ({
    codec: name,
    encodeNs: median(enc[name]),
    decodeNs: median(dec[name]),
    bytes: bytes[name],
    exact: exact[name],
    encodeRounds: enc[name],
    decodeRounds: dec[name],
  }));
  for (const r of results)
    log(
      `codec ${kind.padEnd(16)} ${r.codec.padEnd(22)} encode ${r.encodeNs.toFixed(0).padStart(7)} ns  decode ${r.decodeNs.toFixed(0).padStart(7)} ns  ${String(r.bytes).padStart(5)} B  ${r.exact ? 'exact' : 'NOT exact'}`,
    );
  cases.push({ value: kind, ops, results, ratioRounds: ratios, ratio: median(ratios), aa: { ratio: median(aaRatios), rounds: aaRatios } });
}

const pick = (results, name) => results.find((r) => r.codec === name);
// The median over rounds of the per-round ratio: both sides of a ratio ran interleaved in the same round.
const ratio = cases[0].ratio;
const exactEverywhere = cases.every((c) => pick(c.results, 'structured (default)').exact);
// The A/A figure is worked out as the ratio is: the median of per-round ratios.
const checks = [check('', ratio, '<=', 1.5, noise({ aa: cases[0].aa.ratio, rounds: cases[0].aa.rounds })), fact('exact', exactEverywhere)];
report({
  scenario: 'codec',
  title: 'default codec: cost on the 200 B value vs raw JSON; exact round trips',
  method: `per value kind, ${DISTINCT} distinct values; mean ns per encode and per decode over ${OPS['200 B']} (200 B) or ${OPS['5 KB with dates']} (5 KB) operations per round, the candidates taking turns on chunks of ${CHUNK['200 B']} (200 B) or ${CHUNK['5 KB with dates']} (5 KB) operations in rotating order; medians of ${ROUNDS} rounds; the ratio is the median of the per-round ratios; A/A: raw JSON against a copy of itself among the candidates, the noise band of the ratio; bytes: median encoded size; exact: every value strictly deep-equal (types, prototypes, contents) after a round trip`,
  ratio,
  ratioLabel: `structured/raw JSON (encode + decode, 200 B) = ${ratio.toFixed(2)}`,
  measured: `${ratio.toFixed(2)}x raw JSON (200 B), ${exactEverywhere ? 'exact' : 'NOT exact'}`,
  target: '<= 1.5x raw JSON, exact',
  ...verdictFields(checks),
  cases,
  sink,
});
