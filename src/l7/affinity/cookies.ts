/**
 * Cookie helpers for affinity (pure). `stripCookie` removes one cookie from a Cookie field value
 * (RFC 6265 §4.2.1: `name=value` pairs separated by `;` and optional whitespace) leaving every other
 * pair byte for byte as received; `setCookiePair` reads the name and value of a Set-Cookie field
 * (RFC 6265 §4.1.1) and whether it deletes the cookie (`Max-Age=0` or less, or an `Expires` in the
 * past is not checked: only Max-Age, which servers use to delete session cookies).
 */

/**
 * `value` without the pairs named `name`: undefined when there is none (nothing to change), null
 * when no pair is left (drop the field). Other pairs keep their bytes and separators.
 */
export function stripCookie(value: string, name: string): string | null | undefined {
  if (!value.includes(name)) return undefined;
  let out: string | null = null;
  let found = false;
  let start = 0;
  for (let guard = 0; guard <= value.length; guard++) {
    let end = value.indexOf(';', start);
    if (end < 0) end = value.length;
    const seg = value.slice(start, end);
    const eq = seg.indexOf('=');
    const pairName = (eq < 0 ? seg : seg.slice(0, eq)).trim();
    if (pairName === name) found = true;
    else if (seg.trim() !== '' || out !== null) out = out === null ? seg.trimStart() : out + ';' + seg;
    if (end >= value.length) break;
    start = end + 1;
  }
  if (!found) return undefined;
  return out === null || out.trim() === '' ? null : out;
}

/** Name, value and deletion flag of a Set-Cookie field value, or null when it has no `name=`. */
export function setCookiePair(value: string): { name: string; value: string; deletes: boolean } | null {
  const semi = value.indexOf(';');
  const pair = semi < 0 ? value : value.slice(0, semi);
  const eq = pair.indexOf('=');
  if (eq <= 0) return null;
  const name = pair.slice(0, eq).trim();
  let v = pair.slice(eq + 1).trim();
  if (v.length >= 2 && v[0] === '"' && v[v.length - 1] === '"') v = v.slice(1, -1);
  const attrs = semi < 0 ? '' : value.slice(semi);
  const m = /;\s*max-age\s*=\s*(-?\d+)/i.exec(attrs);
  const deletes = v === '' || (m !== null && Number(m[1]) <= 0);
  return { name, value: v, deletes };
}
