/**
 * Hashing primitives shared by the hashing algorithms (pure, allocation-free over JS strings).
 * Keys are hashed over their UTF-16 code units' low bytes (latin1): header values, paths and
 * addresses arrive as latin1 strings from the HTTP parser, so this is the bytes as received.
 */

/** FNV-1a, 32 bits (Fowler–Noll–Vo). `seed` replaces the offset basis to derive independent hashes. */
export function fnv1a32(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i) & 0xff;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * MurmurHash3 x86_32 (Austin Appleby, public domain) of the latin1 bytes of `s`: four bytes per
 * round, then fmix32 — the key hash of `maglev` and `ip-hash`, about 2x faster than FNV-1a plus
 * fmix32 on 16–32 byte keys (one multiply chain per 4 bytes instead of per byte). Equal to the
 * reference MurmurHash3_x86_32(bytes, len, seed) for every key whose code units are ≤ 0xff.
 */
export function murmur3(s: string, seed = 0): number {
  let h = seed | 0;
  const n = s.length;
  const end4 = n - (n & 3);
  let i = 0;
  for (; i < end4; i += 4) {
    let k = (s.charCodeAt(i) & 0xff) | ((s.charCodeAt(i + 1) & 0xff) << 8)
      | ((s.charCodeAt(i + 2) & 0xff) << 16) | (s.charCodeAt(i + 3) << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const r = n & 3;
  if (r !== 0) {
    let k = s.charCodeAt(i) & 0xff;
    if (r > 1) k |= (s.charCodeAt(i + 1) & 0xff) << 8;
    if (r > 2) k |= (s.charCodeAt(i + 2) & 0xff) << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
  }
  return mix32(h ^ n);
}

/** Final avalanche of MurmurHash3 (fmix32): spreads the bits of a 32-bit hash. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Updates a running CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320) with the bytes of `s`. */
export function crc32Update(crc: number, s: string): number {
  let c = crc >>> 0;
  for (let i = 0; i < s.length; i++) c = CRC_TABLE[(c ^ s.charCodeAt(i)) & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

/** CRC-32 (IEEE) of the latin1 bytes of `s`: init 0xFFFFFFFF, final xor 0xFFFFFFFF. */
export function crc32(s: string): number {
  return (crc32Update(0xffffffff, s) ^ 0xffffffff) >>> 0;
}

/** Updates a running CRC-32 with the 4 bytes of the 32-bit value `v`, least significant first. */
export function crc32UpdateU32LE(crc: number, v: number): number {
  let c = crc >>> 0;
  c = CRC_TABLE[(c ^ v) & 0xff] ^ (c >>> 8);
  c = CRC_TABLE[(c ^ (v >>> 8)) & 0xff] ^ (c >>> 8);
  c = CRC_TABLE[(c ^ (v >>> 16)) & 0xff] ^ (c >>> 8);
  c = CRC_TABLE[(c ^ (v >>> 24)) & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

/** Slicing-by-4 tables (Intel, Kounavis & Berry 2005): T[k][n] = CRC of byte n followed by k zero bytes. */
const CRC_T1 = new Uint32Array(256);
const CRC_T2 = new Uint32Array(256);
const CRC_T3 = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  CRC_T1[n] = (CRC_TABLE[n] >>> 8) ^ CRC_TABLE[CRC_TABLE[n] & 0xff];
  CRC_T2[n] = (CRC_T1[n] >>> 8) ^ CRC_TABLE[CRC_T1[n] & 0xff];
  CRC_T3[n] = (CRC_T2[n] >>> 8) ^ CRC_TABLE[CRC_T2[n] & 0xff];
}

/**
 * CRC-32 (IEEE) of the latin1 bytes of `s`, equal to `crc32(s)` but four bytes per step
 * (slicing-by-4, the 1–3 byte tail in one step too): the hot-path key hash of `consistent-hash`
 * (nginx's ngx_crc32_long). Slicing-by-8 measured no faster here: reading the characters
 * (charCodeAt), not the table lookups, dominates.
 */
export function crc32Fast(s: string): number {
  let c = 0xffffffff;
  const n = s.length;
  const end4 = n - (n & 3);
  let i = 0;
  for (; i < end4; i += 4) {
    c ^= (s.charCodeAt(i) & 0xff) | ((s.charCodeAt(i + 1) & 0xff) << 8)
      | ((s.charCodeAt(i + 2) & 0xff) << 16) | ((s.charCodeAt(i + 3) & 0xff) << 24);
    c = CRC_T3[c & 0xff] ^ CRC_T2[(c >>> 8) & 0xff] ^ CRC_T1[(c >>> 16) & 0xff] ^ CRC_TABLE[c >>> 24];
  }
  // The last 1–3 bytes in one step (x = state ^ bytes; byte j of r is followed by r − 1 − j zeros).
  const r = n - end4;
  if (r === 1) {
    c ^= s.charCodeAt(i) & 0xff;
    c = (c >>> 8) ^ CRC_TABLE[c & 0xff];
  } else if (r === 2) {
    c ^= (s.charCodeAt(i) & 0xff) | ((s.charCodeAt(i + 1) & 0xff) << 8);
    c = (c >>> 16) ^ CRC_T1[c & 0xff] ^ CRC_TABLE[(c >>> 8) & 0xff];
  } else if (r === 3) {
    c ^= (s.charCodeAt(i) & 0xff) | ((s.charCodeAt(i + 1) & 0xff) << 8) | ((s.charCodeAt(i + 2) & 0xff) << 16);
    c = (c >>> 24) ^ CRC_T2[c & 0xff] ^ CRC_T1[(c >>> 8) & 0xff] ^ CRC_TABLE[(c >>> 16) & 0xff];
  }
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * CRC-32 (IEEE) of the bytes b[start, end): equal to `crc32Fast` over the same bytes as a latin1
 * string. The key hash of `consistent-hash` (and `rendezvous`) on the HTTP/1.1 data path, which
 * hands the balancer the key's bytes in the request buffer instead of a string cut out of the head:
 * reading bytes from a Uint8Array costs about half of reading a sliced string's characters
 * (bench/hash-key-bytes.ts). Hand-written: the hot path of every keyed pick, and zlib.crc32 takes
 * no range (a subarray per call allocates).
 */
export function crc32Bytes(b: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  let i = start;
  const end4 = end - ((end - start) & 3);
  for (; i < end4; i += 4) {
    c ^= b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
    c = CRC_T3[c & 0xff] ^ CRC_T2[(c >>> 8) & 0xff] ^ CRC_T1[(c >>> 16) & 0xff] ^ CRC_TABLE[c >>> 24];
  }
  const r = end - i;
  if (r === 1) {
    c ^= b[i];
    c = (c >>> 8) ^ CRC_TABLE[c & 0xff];
  } else if (r === 2) {
    c ^= b[i] | (b[i + 1] << 8);
    c = (c >>> 16) ^ CRC_T1[c & 0xff] ^ CRC_TABLE[(c >>> 8) & 0xff];
  } else if (r === 3) {
    c ^= b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
    c = (c >>> 24) ^ CRC_T2[c & 0xff] ^ CRC_T1[(c >>> 8) & 0xff] ^ CRC_TABLE[(c >>> 16) & 0xff];
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** MurmurHash3 x86_32 of the bytes b[start, end): equal to `murmur3` over the same bytes as a latin1 string. */
export function murmur3Bytes(b: Uint8Array, start: number, end: number, seed = 0): number {
  let h = seed | 0;
  const n = end - start;
  const end4 = end - (n & 3);
  let i = start;
  for (; i < end4; i += 4) {
    let k = b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const r = n & 3;
  if (r !== 0) {
    let k = b[i];
    if (r > 1) k |= b[i + 1] << 8;
    if (r > 2) k |= b[i + 2] << 16;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
  }
  return mix32(h ^ n);
}

/** Greatest common divisor of two non-negative integers (Euclid). */
export function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}
