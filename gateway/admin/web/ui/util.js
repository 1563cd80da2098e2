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
 * The gateway's glob: `*` any run of characters, `?` one character, everything else literal (gateway/alerts/glob.ts).
 * @param {string} glob
 * @returns {(s: string) => boolean}
 */
export function compileGlob(glob) {
  if (glob === '' || glob === '*') return () => true;
  let src = '^';
  for (const ch of glob) {
    if (ch === '*') src += '.*';
    else if (ch === '?') src += '.';
    else src += ch.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  }
  const re = new RegExp(src + '$', 'su');
  return (s) => re.test(s);
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
  for (const [unit, size] of /** @type {const} */ ([['d', 86400000], ['h', 3600000], ['m', 60000], ['s', 1000]])) {
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
