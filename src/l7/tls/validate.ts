/**
 * Config checks that read files (run by src/config/semantic.ts on the raw input, so `fulcrum
 * validate` and every reload see them): each `listeners[i].tls.certificates[j]` pair is readable,
 * parses and belongs together; CA bundles and client certificates of `listeners[i].tls.clientAuth`
 * and `pools[i].tls` are readable. Problems name the path of the field at fault.
 */
import { randomBytes } from 'node:crypto';
import { CertProblem, loadCaFile, loadCertificate, type ContextSettings } from './certs.ts';

type Obj = Record<string, unknown>;
type Segment = string | number;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

const SETTINGS: ContextSettings = { minVersion: 'TLSv1.2', clientCa: null, ticketKeys: randomBytes(48) };

/** Problems of the files a listener's `tls` section names (`l` is the raw listener object). */
export function listenerTlsProblems(l: Obj, li: number, add: (segments: Segment[], message: string) => void): void {
  const t = l.tls;
  if (!isObj(t)) return;
  const at: Segment[] = ['listeners', li, 'tls'];
  if (Array.isArray(t.certificates)) {
    t.certificates.forEach((c, ci) => {
      if (!isObj(c) || typeof c.cert !== 'string' || typeof c.key !== 'string' || c.cert === '' || c.key === '') return;
      try {
        loadCertificate({ cert: c.cert, key: c.key }, SETTINGS);
      } catch (err) {
        if (err instanceof CertProblem) add([...at, 'certificates', ci, err.field], err.message);
        else add([...at, 'certificates', ci], (err as Error).message);
      }
    });
    const defaults = t.certificates.filter((c) => isObj(c) && c.default === true).length;
    if (defaults > 1) add([...at, 'certificates'], `expected at most one certificate with default: true, got ${defaults}`);
  }
  if (isObj(t.clientAuth) && typeof t.clientAuth.ca === 'string' && t.clientAuth.ca !== '') {
    caProblem(t.clientAuth.ca, [...at, 'clientAuth', 'ca'], add);
  }
}

/** Problems of the files a pool's `tls` section names. */
export function poolTlsProblems(p: Obj, pi: number, add: (segments: Segment[], message: string) => void): void {
  const t = p.tls;
  if (!isObj(t)) return;
  const at: Segment[] = ['pools', pi, 'tls'];
  if (typeof t.ca === 'string' && t.ca !== '') caProblem(t.ca, [...at, 'ca'], add);
  const hasCert = typeof t.cert === 'string' && t.cert !== '';
  const hasKey = typeof t.key === 'string' && t.key !== '';
  if (hasCert !== hasKey) {
    add([...at, hasCert ? 'key' : 'cert'], 'a client certificate needs both cert and key');
  } else if (hasCert && hasKey) {
    try {
      loadCertificate({ cert: t.cert as string, key: t.key as string }, SETTINGS);
    } catch (err) {
      if (err instanceof CertProblem) add([...at, err.field], err.message);
      else add(at, (err as Error).message);
    }
  }
}

function caProblem(path: string, at: Segment[], add: (segments: Segment[], message: string) => void): void {
  try {
    loadCaFile(path);
  } catch (err) {
    add(at, (err as Error).message);
  }
}
