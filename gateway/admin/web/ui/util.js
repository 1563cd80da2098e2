// @ts-check
/** Small helpers shared by the views. Browser ES module: DOM APIs only, no dependencies. */

/**
 * fetch() against the gateway's admin API. A 401 means the login is gone (token changed): back to the form.
 * @param {string} path
 * @param {RequestInit} [init]
 */
export async function api(path, init = {}) {
  const res = await fetch(path, { credentials: 'same-origin', ...init });
  if (res.status === 401) {
    location.assign('/login');
    throw new Error('not logged in');
  }
  return res;
}

/**
 * The gateway's glob: `*` any run of characters, `?` one character (a code point), everything else literal.
 * A copy of gateway/alerts/glob.ts (two-pointer match, backtracking to the last `*` only: linear in glob x
 * text, where a regular expression would be exponential in the number of stars); a test holds them equal.
 * @param {string} glob
 * @returns {(s: string) => boolean}
 */
export function compileGlob(glob) {
  if (glob === '' || glob === '*') return () => true;
  if (!glob.includes('*') && !glob.includes('?')) return (s) => s === glob;
  const pattern = Array.from(glob);
  return (s) => wildcardMatch(pattern, Array.from(s));
}

/**
 * @param {readonly string[]} pattern code points
 * @param {readonly string[]} name code points
 * @returns {boolean}
 */
function wildcardMatch(pattern, name) {
  let p = 0;
  let n = 0;
  let star = -1;
  let resume = 0;
  while (n < name.length) {
    const c = pattern[p];
    if (c !== undefined && c !== '*' && (c === '?' || c === name[n])) {
      p++;
      n++;
    } else if (c === '*') {
      star = p++;
      resume = n;
    } else if (star >= 0) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {...(Node | string)} children
 * @returns {HTMLElement}
 */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

/** @param {number} v */
export function formatValue(v) {
  if (!Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  if (abs !== 0 && (abs >= 1e7 || abs < 1e-3)) return v.toExponential(3);
  return String(Number(v.toPrecision(6)));
}

/** "4 s ago", "3 min ago", "2 h ago", "5 d ago"; "in 3 s" for device clocks running ahead. @param {number} ms */
export function formatAge(ms) {
  const future = ms < 0;
  const s = Math.round(Math.abs(ms) / 1000);
  const text = s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : s < 86400 ? `${Math.floor(s / 3600)} h` : `${Math.floor(s / 86400)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

/** Milliseconds as the rules file writes durations: the largest unit that divides evenly. @param {number} ms */
export function formatDuration(ms) {
  for (const [unit, size] of /** @type {const} */ ([
    ['d', 86400000],
    ['h', 3600000],
    ['m', 60000],
    ['s', 1000],
  ])) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * @param {() => void} fn
 * @param {number} ms
 */
export function debounce(fn, ms) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let t;
  return () => {
    if (t !== undefined) clearTimeout(t);
    t = setTimeout(fn, ms);
  };
}
