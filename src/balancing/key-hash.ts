/**
 * The key hash of a pick, from whichever form the caller gave the key in (PickContext): bytes in a
 * buffer (the HTTP/1.1 data path) or a string (HTTP/2, L4, the admin API, tests). Both forms hash
 * the same bytes — a latin1 string's code units are the bytes as received — so a key maps to the
 * same endpoint whichever path it came through. −1 means the key is missing or empty (nginx
 * balances an empty `hash` key round robin); otherwise an unsigned 32-bit hash.
 */
import { crc32Bytes, crc32Fast, murmur3, murmur3Bytes } from '../core/hash.ts';
import type { PickContext } from './types.ts';

/** CRC-32 (IEEE) of the key — `consistent-hash` (nginx's ngx_crc32_long) and `rendezvous`; −1 when missing or empty. */
export function keyCrc32(ctx: PickContext): number {
  const b = ctx.keyBytes;
  if (b !== undefined && b !== null) {
    const start = ctx.keyStart as number;
    const end = ctx.keyEnd as number;
    return end > start ? crc32Bytes(b, start, end) : -1;
  }
  const key = ctx.key;
  return key === undefined || key.length === 0 ? -1 : crc32Fast(key);
}

/** MurmurHash3 x86_32 (seed 0) of the key — `maglev` and `ip-hash`; −1 when missing or empty. */
export function keyMurmur3(ctx: PickContext): number {
  const b = ctx.keyBytes;
  if (b !== undefined && b !== null) {
    const start = ctx.keyStart as number;
    const end = ctx.keyEnd as number;
    return end > start ? murmur3Bytes(b, start, end) : -1;
  }
  const key = ctx.key;
  return key === undefined || key.length === 0 ? -1 : murmur3(key);
}
