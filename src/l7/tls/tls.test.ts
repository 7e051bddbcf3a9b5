// Pure parts of the TLS module: SNI selection rules of CertStore, RFC 4514 subjects, the redirect
// response and the HSTS header insertion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CertStore, type LoadedCert } from './certs.ts';
import { rfc4514, subjectHeaderLine } from './subject.ts';
import { redirectResponse, withHsts } from './redirect.ts';

function fake(id: string, names: string[], isDefault = false): LoadedCert {
  return { spec: { cert: id, key: id, ...(isDefault ? { default: true } : {}) }, names, serial: id } as unknown as LoadedCert;
}

test('CertStore: exact, then one-label wildcard, then default; first entry wins a name; default: true', () => {
  const a = fake('a', ['a.example.com', 'www.example.com']);
  const w = fake('w', ['*.example.com']);
  const a2 = fake('a2', ['a.example.com', '*.example.com']);
  const d = fake('d', ['default.test'], true);
  const s = new CertStore([a, w, a2, d]);
  const pick = (n: string) => s.select(n).serial;
  assert.equal(pick('a.example.com'), 'a');
  assert.equal(pick('A.EXAMPLE.COM.'), 'a', 'case and trailing dot');
  assert.equal(pick('b.example.com'), 'w', 'the first wildcard wins');
  assert.equal(pick('x.b.example.com'), 'd', 'one label only');
  assert.equal(pick('example.com'), 'd');
  assert.equal(pick('.example.com'), 'd', 'an empty label is no label');
  assert.equal(pick(''), 'd');
  assert.equal(pick('default.test'), 'd');
  assert.equal(new CertStore([a, w]).default.serial, 'a', 'first entry is the default without default: true');
});

test('subject: RFC 4514 order and escaping; no control characters reach the header', () => {
  assert.equal(rfc4514('C=FR\nO=Example, Inc.\nCN=client-1'), 'CN=client-1,O=Example\\, Inc.,C=FR');
  assert.equal(rfc4514('CN= lead+trail \nO=#hash'), 'O=\\#hash,CN=\\ lead\\+trail\\ ');
  assert.equal(subjectHeaderLine('X-S', 'CN=a\r\nb'), 'X-S: b,CN=a\r\n');
  assert.equal(subjectHeaderLine('X-S', undefined), '');
});

test('redirect: Location from Host (port dropped) and target; absolute-form reduced; bad Host → null; HEAD has no body', () => {
  const r = redirectResponse({ scheme: 'https', code: 301 }, 'Shop.example.com:8080', '/a/b?c=d', true, false)!;
  assert.match(r, /^HTTP\/1\.1 301 Moved Permanently\r\nLocation: https:\/\/Shop\.example\.com\/a\/b\?c=d\r\n/);
  const body = r.slice(r.indexOf('\r\n\r\n') + 4);
  assert.equal(Number(/Content-Length: (\d+)/.exec(r)![1]), Buffer.byteLength(body));
  assert.doesNotMatch(r, /Connection: close/);
  const p = redirectResponse({ scheme: 'https', code: 308, port: 8443 }, '[::1]:80', 'http://other/x?y', false, true)!;
  assert.match(p, /^HTTP\/1\.1 308 Permanent Redirect\r\nLocation: https:\/\/\[::1\]:8443\/x\?y\r\n/);
  assert.match(p, /Connection: close\r\n\r\n$/, 'HEAD: head only');
  assert.match(redirectResponse({ scheme: 'https', code: 302, port: 443 }, 'h', '*', true, false)!, /Location: https:\/\/h\/\r\n/);
  assert.equal(redirectResponse({ scheme: 'https', code: 301 }, null, '/', true, false), null);
  assert.equal(redirectResponse({ scheme: 'https', code: 301 }, 'evil\r\nX: y', '/', true, false), null);
  assert.equal(redirectResponse({ scheme: 'https', code: 301 }, 'a b', '/', true, false), null);
});

test('HSTS: added before the blank line, not when the backend sent one', () => {
  const head = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
  assert.equal(withHsts(head, ['Content-Length'], 'max-age=1'), 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nStrict-Transport-Security: max-age=1\r\n\r\n');
  assert.equal(withHsts(head, ['strict-Transport-security'], 'max-age=1'), head);
});
