import { mulberry32 } from '../../scripts/lib/shared.mjs';

// Records written as another writer would, and read back as docs/record-format.md defines them: they ship with the contract suite.
export { decodePayload, foreignDelete, foreignSet, metaHeaders, recordMeta, withMetaLine, type MetaFields, type RecordMeta } from '@nearcache/core/conformance';

/** A small seeded PRNG (mulberry32), so a failing random run can be replayed. */
export const prng = mulberry32;
