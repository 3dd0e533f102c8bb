import { describe, expect, it } from 'vitest';
import { WriteShield } from '../src/cache/write-shield.js';

// Read-your-writes (contract item 2) on its own: which records of the log the writing instance
// applies while its own writes are on their way, and when each write's shield ends.
const set = (key: string, writeId: number) => ({ op: 'set' as const, key, writeId });
const clear = (prefix: string, writeId: number) => ({ op: 'clear' as const, key: prefix, writeId });
const REMOTE = { own: false, writeId: 1 };

function shield(partitions = 1): WriteShield {
  return new WriteShield(() => partitions);
}

describe('write shield', () => {
  it('admits records of keys nobody wrote here', () => {
    const s = shield();
    expect(s.admits('k', REMOTE.own, REMOTE.writeId, 0, 0)).toBe(true);
  });

  it('keeps a pending local write against older remote records until its own record comes back', () => {
    const s = shield();
    s.wroteKey('k', 1);
    expect(s.admits('k', false, 7, 0, 3)).toBe(false);
    // Its own record: not applied again (the local value is already there), and the shield ends.
    expect(s.admits('k', true, 1, 0, 4)).toBe(false);
    expect(s.pendingKeys).toBe(0);
    expect(s.admits('k', false, 8, 0, 5)).toBe(true);
  });

  it('waits for the latest local write of a key, not an earlier one', () => {
    const s = shield();
    s.wroteKey('k', 1);
    s.wroteKey('k', 2);
    expect(s.admits('k', true, 1, 0, 4)).toBe(false);
    expect(s.pendingKeys).toBe(1);
    expect(s.admits('k', false, 9, 0, 5)).toBe(false);
    expect(s.admits('k', true, 2, 0, 6)).toBe(false);
    expect(s.admits('k', false, 9, 0, 7)).toBe(true);
  });

  it('lets a record that sits after the acknowledged local write win (the cleaner removed the local one)', () => {
    const s = shield();
    s.wroteKey('k', 1);
    s.acknowledged(set('k', 1), 0, 10);
    expect(s.admits('k', false, 5, 0, 9)).toBe(false);
    expect(s.admits('k', false, 5, 0, 12)).toBe(true);
    expect(s.pendingKeys).toBe(0);
  });

  it('ends the shield once the consumer reads past the acknowledged offset without seeing the record', () => {
    const s = shield(2);
    s.wroteKey('k', 1);
    s.acknowledged(set('k', 1), 1, 10);
    s.passed(0, 50); // another partition: no news
    expect(s.pendingKeys).toBe(1);
    s.passed(1, 10); // not past it yet
    expect(s.pendingKeys).toBe(1);
    s.passed(1, 11);
    expect(s.pendingKeys).toBe(0);
    expect(s.admits('k', false, 3, 1, 11)).toBe(true);
  });

  it('ignores an acknowledgement of a write already replaced by a later one', () => {
    const s = shield();
    s.wroteKey('k', 1);
    s.wroteKey('k', 2);
    s.acknowledged(set('k', 1), 0, 10);
    expect(s.admits('k', false, 5, 0, 12)).toBe(false);
  });

  it('ends the shield of a write the log refused for good', () => {
    const s = shield();
    s.wroteKey('k', 1);
    s.dropped(set('k', 1));
    expect(s.admits('k', false, 5, 0, 1)).toBe(true);
  });

  it('keeps a dropped earlier write from ending the shield of a later one', () => {
    const s = shield();
    s.wroteKey('k', 1);
    s.wroteKey('k', 2);
    s.dropped(set('k', 1));
    expect(s.admits('k', false, 5, 0, 1)).toBe(false);
  });

  it('shadows older records under a pending clear until its record came back from every partition', () => {
    const s = shield(2);
    s.wroteClear('p:', 1);
    expect(s.admits('p:a', false, 5, 0, 3)).toBe(false);
    expect(s.admits('q:a', false, 5, 0, 3)).toBe(true);
    s.clearCameBack(1, 0);
    expect(s.admits('p:a', false, 5, 0, 4)).toBe(true);
    expect(s.admits('p:b', false, 5, 1, 4)).toBe(false);
    s.clearCameBack(1, 1);
    expect(s.admits('p:b', false, 5, 1, 5)).toBe(true);
  });

  it('admits records after an acknowledged clear whose record the cleaner removed', () => {
    const s = shield();
    s.wroteClear('p:', 1);
    s.acknowledged(clear('p:', 1), 0, 7);
    expect(s.admits('p:a', false, 5, 0, 5)).toBe(false);
    expect(s.admits('p:a', false, 5, 0, 9)).toBe(true);
    // The clear is behind: older offsets are no longer shadowed either.
    expect(s.admits('p:b', false, 5, 0, 6)).toBe(true);
  });

  it('ends a pending clear once the consumer passes its acknowledged offset', () => {
    const s = shield();
    s.wroteClear('p:', 1);
    s.acknowledged(clear('p:', 1), 0, 7);
    s.passed(0, 8);
    expect(s.admits('p:a', false, 5, 0, 3)).toBe(true);
  });

  it('stops waiting for a clear superseded by a later clear of the same prefix, or dropped', () => {
    const s = shield();
    s.wroteClear('p:', 1);
    s.superseded(clear('p:', 1));
    expect(s.admits('p:a', false, 5, 0, 3)).toBe(true);
    s.wroteClear('q:', 2);
    s.dropped(clear('q:', 2));
    expect(s.admits('q:a', false, 5, 0, 3)).toBe(true);
  });

  it('keeps keys with a local write in flight from a remote clear, unless the write sits before the clear', () => {
    const s = shield();
    expect(s.keepsFromClear('k', 20)).toBe(false);
    s.wroteKey('k', 1);
    expect(s.keepsFromClear('k', 20)).toBe(true);
    s.acknowledged(set('k', 1), 0, 25);
    expect(s.keepsFromClear('k', 20)).toBe(true);
    s.wroteKey('j', 2);
    s.acknowledged(set('j', 2), 0, 15);
    expect(s.keepsFromClear('j', 20)).toBe(false);
    expect(s.admits('j', false, 5, 0, 21)).toBe(true);
  });
});
