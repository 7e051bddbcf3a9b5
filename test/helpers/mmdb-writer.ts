/**
 * A minimal writer of MaxMind DB files (MaxMind DB format spec 2.0: a binary search tree of 24-bit
 * records, a 16-byte separator, the data section, then the metadata after "\xAB\xCD\xEFMaxMind.com"),
 * IPv4 only, for the geo tests: a few networks → {country, continent}. Not a general writer.
 */

function ctrl(type: number, size: number): Buffer {
  if (size >= 29) throw new Error('size too large for this writer');
  return type <= 7 ? Buffer.from([(type << 5) | size]) : Buffer.from([size, type - 7]);
}

function encode(v: unknown): Buffer {
  if (typeof v === 'string') {
    const b = Buffer.from(v);
    return Buffer.concat([ctrl(2, b.length), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([ctrl(11, v.length), ...v.map(encode)]);
  if (typeof v === 'object' && v !== null && 'u16' in v) return uint(5, (v as { u16: number }).u16);
  if (typeof v === 'object' && v !== null && 'u32' in v) return uint(6, (v as { u32: number }).u32);
  if (typeof v === 'object' && v !== null && 'u64' in v) return uint(9, (v as { u64: number }).u64);
  if (typeof v === 'object' && v !== null) {
    const entries = Object.entries(v);
    return Buffer.concat([ctrl(7, entries.length), ...entries.flatMap(([k, x]) => [encode(k), encode(x)])]);
  }
  throw new Error(`cannot encode ${String(v)}`);
}

function uint(type: number, n: number): Buffer {
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x % 256);
  return Buffer.concat([ctrl(type, bytes.length), Buffer.from(bytes)]);
}

interface Node { kids: [Node | number | null, Node | number | null] }

/** An IPv4 MMDB mapping each `cidr` to `{ country: { iso_code }, continent: { code } }`. */
export function writeMmdb(entries: { cidr: string; country: string; continent: string }[]): Buffer {
  const data: Buffer[] = [];
  let dataLen = 0;
  const root: Node = { kids: [null, null] };
  for (const e of entries) {
    const [ip, bits] = e.cidr.split('/');
    const prefix = Number(bits);
    const addr = ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
    const offset = dataLen;
    const rec = encode({ country: { iso_code: e.country }, continent: { code: e.continent } });
    data.push(rec);
    dataLen += rec.length;
    let node = root;
    for (let d = 0; d < prefix; d++) {
      const bit = Math.floor(addr / 2 ** (31 - d)) % 2;
      if (d === prefix - 1) { node.kids[bit] = offset; break; }
      let next = node.kids[bit];
      if (typeof next !== 'object' || next === null) {
        next = { kids: [null, null] };
        node.kids[bit] = next;
      }
      node = next;
    }
  }
  const nodes: Node[] = [];
  const queue: Node[] = [root];
  while (queue.length > 0) {
    const n = queue.shift()!;
    nodes.push(n);
    for (const k of n.kids) if (typeof k === 'object' && k !== null) queue.push(k);
  }
  const index = new Map(nodes.map((n, i) => [n, i]));
  const count = nodes.length;
  const tree = Buffer.alloc(count * 6);
  nodes.forEach((n, i) => {
    n.kids.forEach((k, side) => {
      const v = k === null ? count : typeof k === 'number' ? count + 16 + k : index.get(k)!;
      tree.writeUIntBE(v, i * 6 + side * 3, 3);
    });
  });
  const meta = encode({
    node_count: { u32: count }, record_size: { u16: 24 }, ip_version: { u16: 4 },
    database_type: 'Fulcrum-Test-Country', languages: ['en'],
    binary_format_major_version: { u16: 2 }, binary_format_minor_version: { u16: 0 },
    build_epoch: { u64: 1_700_000_000 }, description: { en: 'test' },
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...data, Buffer.from([0xab, 0xcd, 0xef]), Buffer.from('MaxMind.com'), meta]);
}
