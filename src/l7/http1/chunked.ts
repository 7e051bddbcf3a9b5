/**
 * Chunked transfer coding scanner (RFC 9112 §7.1: chunk-size, §7.1.1: chunk extensions,
 * §7.1.2: trailer section). It only finds where a chunked body ends and validates its framing;
 * the bytes are forwarded untouched, so nothing is copied. It is a resumable byte state machine:
 * a body may arrive split at any byte across calls.
 */
import {
  CR, LF, SP, HTAB, COLON, SEMI, EQUALS, DQUOTE, BACKSLASH, TCHAR, FIELD, HEXVAL, QDTEXT, fail,
} from './tokens.ts';

export { HttpParseError } from './tokens.ts';

/** Longest chunk-size line (size, extensions, CRLF excluded). */
const MAX_SIZE_LINE = 4096;
/** Largest trailer section, final CRLF included. */
const MAX_TRAILER_BYTES = 32768;
/** At most 16 hex digits in a chunk-size. */
const MAX_HEX_DIGITS = 16;

const S_SIZE = 0; //         first HEXDIG of a chunk-size
const S_SIZE_MORE = 1; //    more HEXDIG, ";", BWS or CR
const S_BWS_SEMI = 2; //     BWS that must be followed by ";"
const S_EXT_PRE = 3; //      BWS after ";", then chunk-ext-name
const S_EXT_NAME = 4; //     tchar, BWS, "=", ";" or CR
const S_EXT_NAME_WS = 5; //  BWS after a name: "=" or ";"
const S_EXT_VAL_PRE = 6; //  BWS after "=", then token or quoted-string
const S_EXT_TOKEN = 7; //    tchar, BWS, ";" or CR
const S_EXT_QUOTED = 8; //   qdtext, "\" or closing DQUOTE
const S_EXT_QESC = 9; //     the byte after "\"
const S_EXT_AFTER_Q = 10; // after closing DQUOTE: BWS, ";" or CR
const S_SIZE_LF = 11; //     LF ending the chunk-size line
const S_DATA = 12; //        chunk-data
const S_DATA_CR = 13; //     CR after chunk-data
const S_DATA_LF = 14; //     LF after chunk-data
const S_TR_START = 15; //    start of a trailer line or of the final CRLF
const S_TR_NAME = 16; //     trailer field name
const S_TR_VALUE = 17; //    trailer field value
const S_TR_LF = 18; //       LF ending a trailer line
const S_FINAL_LF = 19; //    LF of the final CRLF
const S_DONE = 20;

/**
 * Walks chunked framing without copying. Errors are 400 FULCRUM_E_BAD_REQUEST, or 502
 * FULCRUM_E_UPSTREAM_BAD_RESPONSE when constructed with `response = true` (default false).
 * Limits: 16 hex digits (and ≤ Number.MAX_SAFE_INTEGER) per size, 4 KiB per chunk-size line,
 * 32 KiB of trailer section.
 */
export class ChunkedScanner {
  private readonly response: boolean;
  private state = S_SIZE;
  private size = 0;
  private digits = 0;
  private lineBytes = 0;
  private trailerBytes = 0;

  constructor(response = false) {
    this.response = response;
  }

  /** Starts a new body. */
  reset(): void {
    this.state = S_SIZE;
    this.size = 0;
    this.digits = 0;
    this.lineBytes = 0;
    this.trailerBytes = 0;
  }

  /** True once the end of the body has been scanned (until reset()). */
  get done(): boolean {
    return this.state === S_DONE;
  }

  private bad(msg: string): never {
    fail(this.response, 'FULCRUM_E_BAD_REQUEST', `chunked body: ${msg}`);
  }

  /**
   * Scans buf[start, end). Returns the absolute offset just past the end of the chunked body (after
   * last-chunk, trailers and final CRLF) if it ends inside the range, else -1 (all bytes belong to
   * the body; call again with more). Throws HttpParseError on bad framing. Once done, returns
   * `start` until reset().
   */
  scan(buf: Buffer, start: number, end: number): number {
    let state = this.state;
    if (state === S_DONE) return start;
    let pos = start;
    while (pos < end) {
      if (state === S_DATA) {
        const avail = end - pos;
        if (avail < this.size) {
          this.size -= avail;
          pos = end;
          break;
        }
        pos += this.size;
        this.size = 0;
        state = S_DATA_CR;
        continue;
      }
      const c = buf[pos++];
      if (state < S_SIZE_LF && ++this.lineBytes > MAX_SIZE_LINE) this.bad('chunk-size line too long');
      switch (state) {
        case S_SIZE: {
          const h = HEXVAL[c];
          if (h === 0) this.bad('chunk-size is not hexadecimal');
          this.size = h - 1;
          this.digits = 1;
          state = S_SIZE_MORE;
          break;
        }
        case S_SIZE_MORE: {
          const h = HEXVAL[c];
          if (h !== 0) {
            if (++this.digits > MAX_HEX_DIGITS) this.bad('chunk-size has more than 16 hex digits');
            this.size = this.size * 16 + (h - 1);
            if (this.size > Number.MAX_SAFE_INTEGER) this.bad('chunk-size too large');
          } else if (c === CR) state = S_SIZE_LF;
          else if (c === SEMI) state = S_EXT_PRE;
          else if (c === SP || c === HTAB) state = S_BWS_SEMI;
          else this.bad('invalid character after chunk-size');
          break;
        }
        case S_BWS_SEMI:
          if (c === SEMI) state = S_EXT_PRE;
          else if (c !== SP && c !== HTAB) this.bad('whitespace not followed by ";" in chunk-size line');
          break;
        case S_EXT_PRE:
          if (TCHAR[c] === 1) state = S_EXT_NAME;
          else if (c !== SP && c !== HTAB) this.bad('invalid chunk-ext-name');
          break;
        case S_EXT_NAME:
          if (TCHAR[c] === 1) break;
          if (c === CR) state = S_SIZE_LF;
          else if (c === SEMI) state = S_EXT_PRE;
          else if (c === EQUALS) state = S_EXT_VAL_PRE;
          else if (c === SP || c === HTAB) state = S_EXT_NAME_WS;
          else this.bad('invalid character in chunk-ext-name');
          break;
        case S_EXT_NAME_WS:
          if (c === EQUALS) state = S_EXT_VAL_PRE;
          else if (c === SEMI) state = S_EXT_PRE;
          else if (c !== SP && c !== HTAB) this.bad('invalid character after chunk-ext-name');
          break;
        case S_EXT_VAL_PRE:
          if (TCHAR[c] === 1) state = S_EXT_TOKEN;
          else if (c === DQUOTE) state = S_EXT_QUOTED;
          else if (c !== SP && c !== HTAB) this.bad('invalid chunk-ext-val');
          break;
        case S_EXT_TOKEN:
          if (TCHAR[c] === 1) break;
          if (c === CR) state = S_SIZE_LF;
          else if (c === SEMI) state = S_EXT_PRE;
          else if (c === SP || c === HTAB) state = S_BWS_SEMI;
          else this.bad('invalid character in chunk-ext-val');
          break;
        case S_EXT_QUOTED:
          if (c === DQUOTE) state = S_EXT_AFTER_Q;
          else if (c === BACKSLASH) state = S_EXT_QESC;
          else if (QDTEXT[c] === 0) this.bad('invalid character in quoted chunk-ext-val');
          break;
        case S_EXT_QESC:
          if (FIELD[c] === 0) this.bad('invalid quoted-pair in chunk-ext-val');
          state = S_EXT_QUOTED;
          break;
        case S_EXT_AFTER_Q:
          if (c === CR) state = S_SIZE_LF;
          else if (c === SEMI) state = S_EXT_PRE;
          else if (c === SP || c === HTAB) state = S_BWS_SEMI;
          else this.bad('invalid character after quoted chunk-ext-val');
          break;
        case S_SIZE_LF:
          if (c !== LF) this.bad('chunk-size line not ended by CRLF');
          this.lineBytes = 0;
          state = this.size === 0 ? S_TR_START : S_DATA;
          break;
        case S_DATA_CR:
          if (c !== CR) this.bad('chunk-data not followed by CRLF');
          state = S_DATA_LF;
          break;
        case S_DATA_LF:
          if (c !== LF) this.bad('chunk-data not followed by CRLF');
          this.digits = 0;
          state = S_SIZE;
          break;
        default:
          // Trailer section (field-line rules of RFC 9112 §5).
          if (++this.trailerBytes > MAX_TRAILER_BYTES) this.bad('trailer section too large');
          switch (state) {
            case S_TR_START:
              if (c === CR) state = S_FINAL_LF;
              else if (TCHAR[c] === 1) state = S_TR_NAME;
              else if (c === SP || c === HTAB) this.bad('obs-fold in trailer section');
              else this.bad('invalid trailer field line');
              break;
            case S_TR_NAME:
              if (c === COLON) state = S_TR_VALUE;
              else if (TCHAR[c] !== 1) this.bad(c === SP || c === HTAB ? 'whitespace before colon in trailer' : 'invalid trailer field name');
              break;
            case S_TR_VALUE:
              if (c === CR) state = S_TR_LF;
              else if (FIELD[c] === 0) this.bad('invalid character in trailer field value');
              break;
            case S_TR_LF:
              if (c !== LF) this.bad('trailer line not ended by CRLF');
              state = S_TR_START;
              break;
            default: // S_FINAL_LF
              if (c !== LF) this.bad('chunked body not ended by CRLF');
              this.state = S_DONE;
              return pos;
          }
      }
    }
    this.state = state;
    return -1;
  }
}
