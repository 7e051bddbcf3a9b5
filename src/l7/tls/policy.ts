/**
 * The TLS policy of `https` listeners: Mozilla's "intermediate" server configuration (version 5.7,
 * https://wiki.mozilla.org/Security/Server_Side_TLS), narrowed to ECDHE key exchange: TLS 1.3
 * preferred, TLS 1.2 as the minimum with ECDHE + AEAD suites only (no CBC, no RSA key exchange, no
 * finite-field DHE), curves X25519, P-256, P-384. The server's suite order decides (every suite
 * offered is strong, so this only makes the choice predictable and auditable — testssl.sh counts
 * "no server order" as a finding), except that ChaCha20-Poly1305 wins for a client that lists it
 * first (a client without AES hardware; OpenSSL's PRIORITIZE_CHACHA). Renegotiation is off (RFC
 * 8446 removed it; in TLS 1.2 it is a denial-of-service lever).
 */
import { constants } from 'node:crypto';

/** TLS 1.3 suites (RFC 8446 §B.4), in Mozilla's order. */
export const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/** TLS 1.2 suites: ECDHE (forward secrecy) with an AEAD cipher (GCM or ChaCha20-Poly1305). */
export const TLS12_SUITES = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305',
];

/** OpenSSL cipher string for node:tls (`ciphers` takes the TLS 1.3 names too). */
export const CIPHERS = [...TLS13_SUITES, ...TLS12_SUITES].join(':');

/** Key-exchange groups, in preference order. */
export const ECDH_CURVES = 'X25519:prime256v1:secp384r1';

/** OpenSSL options: no renegotiation, no compression (CRIME), ChaCha20 first for clients that prefer it. */
export const SECURE_OPTIONS = constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_NO_COMPRESSION | constants.SSL_OP_PRIORITIZE_CHACHA;

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** Options shared by every secure context of a listener (certificate and key are added per entry). */
export function contextOptions(minVersion: TlsVersion): {
  minVersion: TlsVersion; maxVersion: 'TLSv1.3'; ciphers: string; ecdhCurve: string; honorCipherOrder: boolean; secureOptions: number;
} {
  return { minVersion, maxVersion: 'TLSv1.3', ciphers: CIPHERS, ecdhCurve: ECDH_CURVES, honorCipherOrder: true, secureOptions: SECURE_OPTIONS };
}
