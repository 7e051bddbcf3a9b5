/**
 * A client certificate's subject as a request header value: the distinguished name in RFC 4514
 * string form (last RDN first, `CN=client,O=Example,C=FR`, special characters escaped), as nginx's
 * `$ssl_client_s_dn`. Control characters are dropped so the value is always a valid field value.
 */

/** `Name: CN=…,O=…\r\n` for the subject `subject` (node:crypto's newline-separated form); '' when none. */
export function subjectHeaderLine(name: string, subject: string | undefined): string {
  if (subject === undefined || subject === '') return '';
  return `${name}: ${rfc4514(subject)}\r\n`;
}

/** node:crypto subject (`C=FR\nO=Example\nCN=client`, first RDN first) → RFC 4514 string. */
export function rfc4514(subject: string): string {
  return subject.split('\n').filter((l) => l !== '').reverse().map((rdn) => {
    const eq = rdn.indexOf('=');
    if (eq < 0) return escapeValue(rdn);
    return `${rdn.slice(0, eq)}=${escapeValue(rdn.slice(eq + 1))}`;
  }).join(',');
}

function escapeValue(v: string): string {
  // eslint-disable-next-line no-control-regex
  let out = v.replace(/[\x00-\x1f\x7f]/g, '').replace(/([,+"\\<>;=])/g, '\\$1');
  if (out.startsWith(' ') || out.startsWith('#')) out = `\\${out}`;
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}
