/**
 * Secrets out of what the gateway shows: /health, logs and error messages may carry a URL from the config
 * (`influx.url`), which may hold a password in its userinfo (RFC 3986 section 3.2.1 deprecates that form, and
 * says applications should not render the part after the first `:`) or a credential in its query (InfluxDB 1.x
 * takes `u` and `p`; others `token`, `access_token`, ...). Called where text is shown, not on hot paths.
 */

const MASK = '***';

/** Query parameters whose value is a credential. */
const SECRET_PARAM = /^(?:p|password|passwd|pwd|pass|token|access_token|refresh_token|api[_-]?key|secret|auth|authorization|sig|signature)$/i;

/** `http://user:pw@host/?p=x&db=iot` -> `http://user:***@host/?p=***&db=iot`. Text that is not a URL is returned as is. */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return redactSecrets(url);
  }
  let changed = false;
  if (u.password !== '') {
    u.password = MASK;
    changed = true;
  }
  for (const key of [...u.searchParams.keys()]) {
    if (SECRET_PARAM.test(key)) {
      u.searchParams.set(key, MASK);
      changed = true;
    }
  }
  // Unchanged URLs keep their exact text (new URL() would normalise it, e.g. add a trailing slash).
  return changed ? u.toString().replaceAll(encodeURIComponent(MASK), MASK) : url;
}

/**
 * The same for URLs inside free text (an error message that quotes a URL). Linear: every repetition that can
 * restart at each position is bounded (scheme 32, user and password 256 characters).
 * `scheme://user:password@` and `secret-param=value` (after `?` or `&`) lose their secret part.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(/(\b[a-z][a-z0-9+.-]{0,31}:\/\/[^\s/?#@:]{0,256}):[^\s/?#@]{0,256}@/gi, `$1:${MASK}@`)
    .replace(/([?&])([^=&#\s]{1,64})=([^&#\s?]*)/g, (all, sep: string, key: string) => (SECRET_PARAM.test(key) ? `${sep}${key}=${MASK}` : all));
}
