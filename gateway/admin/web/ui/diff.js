// @ts-check
/**
 * A line diff (longest common subsequence; rules files are a few hundred lines, so O(n*m) is fine), as
 * `[' ' | '-' | '+', line]` entries: '-' only in `a`, '+' only in `b`.
 * @param {string} a @param {string} b
 * @returns {[' ' | '-' | '+', string][]}
 */
export function lineDiff(a, b) {
  const x = a.split('\n');
  const y = b.split('\n');
  const n = x.length;
  const m = y.length;
  // lcs[i][j]: length of the LCS of x[i..] and y[j..], in one flat array.
  const lcs = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * (m + 1) + j] = x[i] === y[j] ? lcs[(i + 1) * (m + 1) + j + 1] + 1 : Math.max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1]);
    }
  }
  /** @type {[' ' | '-' | '+', string][]} */
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      out.push([' ', x[i]]);
      i++;
      j++;
    } else if (lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) out.push(['-', x[i++] ?? '']);
    else out.push(['+', y[j++] ?? '']);
  }
  while (i < n) out.push(['-', x[i++] ?? '']);
  while (j < m) out.push(['+', y[j++] ?? '']);
  return out;
}
