// Redis glob patterns (SCAN MATCH, KEYS): `*`, `?`, `[abc]`, `[^a]`, `[a-z]` and `\x`.
// Matched without regular expressions or recursion: one backtracking point (the last `*`),
// so a pattern costs at most key length x pattern length steps, whatever it holds.

/** Whether `text` matches the glob `pattern`. */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    if (p < pattern.length) {
      const c = pattern[p]!;
      if (c === '*') {
        while (p < pattern.length && pattern[p] === '*') p++;
        if (p === pattern.length) return true;
        starP = p;
        starT = t;
        continue;
      }
      const step = matchOne(pattern, p, text[t]!);
      if (step > 0) {
        p += step;
        t++;
        continue;
      }
    }
    if (starP === -1) return false;
    p = starP;
    t = ++starT;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/** The length of the pattern element at `p` if it matches `ch`, else 0. */
function matchOne(pattern: string, p: number, ch: string): number {
  const c = pattern[p]!;
  if (c === '?') return 1;
  if (c === '\\' && p + 1 < pattern.length) return pattern[p + 1] === ch ? 2 : 0;
  if (c !== '[') return c === ch ? 1 : 0;
  // A class: up to its closing `]` (or the end of the pattern, as Redis reads it).
  let i = p + 1;
  const negate = pattern[i] === '^';
  if (negate) i++;
  let matched = false;
  while (i < pattern.length && pattern[i] !== ']') {
    if (pattern[i] === '\\' && i + 1 < pattern.length) {
      if (pattern[i + 1] === ch) matched = true;
      i += 2;
    } else if (i + 2 < pattern.length && pattern[i + 1] === '-' && pattern[i + 2] !== ']') {
      let low = pattern[i]!;
      let high = pattern[i + 2]!;
      if (low > high) [low, high] = [high, low];
      if (ch >= low && ch <= high) matched = true;
      i += 3;
    } else {
      if (pattern[i] === ch) matched = true;
      i++;
    }
  }
  if (negate) matched = !matched;
  if (!matched) return 0;
  return (i < pattern.length ? i + 1 : i) - p;
}
