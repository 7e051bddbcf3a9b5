/**
 * The `https` listener: TLS termination (RFC 8446 / RFC 5246 via node:tls) in front of the HTTP/1.1
 * proxy of src/l7/http1. Certificates are chosen by SNI (RFC 6066 §3, ./certs.ts); ALPN (RFC 7301)
 * selects `h2` when the HTTP/2 module has registered its handler (../h2-hook.ts), else `http/1.1`;
 * a client offering neither gets the no_application_protocol alert. Optional client certificate
 * verification (mTLS). Policy: ./policy.ts.
 *
 * Rotation: the certificate files are watched (./watch.ts) and re-read on every config reload; a
 * new secure context serves new handshakes (SNI callback, and setSecureContext() for clients
 * without SNI) while established connections keep theirs. A file that fails to load keeps the
 * certificate it would replace and logs an error.
 *
 * Accepting: a plain net.Server listens and gives each connection to the (never listening)
 * tls.Server with `emit('connection')` — at once, or, when the listener accepts the PROXY protocol,
 * after ../proxy-stage.ts has read the PROXY header that precedes the ClientHello (the bytes after
 * it are put back for TLS). The carried address follows the TLS socket to the HTTP connection.
 */
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket, type SecureContext } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { HttpListener } from '../http1/server.ts';
import { ClientConn } from '../http1/client.ts';
import { registerListenerKind, type ServiceSnapshot } from '../../runtime/listener.ts';
import type { ListenerConfig } from '../../config/schema.ts';
import type { Metrics } from '../../admin/metrics.ts';
import { h2Handler } from '../h2-hook.ts';
import { CertStore, loadCaFile, loadCertificate, type CertSpec, type LoadedCert } from './certs.ts';
import { FileWatch } from './watch.ts';
import { defaultLogger } from '../../core/log.ts';
import { subjectHeaderLine } from './subject.ts';
import { startProxyStage } from '../proxy-stage.ts';

type TlsConfig = NonNullable<ListenerConfig['tls']>;

/** Raw sockets whose PROXY header carried a client address, until their TLS socket is served. */
const proxiedIps = new WeakMap<Socket, string>();

export class HttpsListener extends HttpListener {
  override readonly proto: string = 'https';
  /** The certificates in service (replaced whole on rotation); null only if none could ever be loaded. */
  store: CertStore | null = null;
  /** Lowercased name of the header carrying the client certificate's subject, or null. */
  clientCertHeader: string | null = null;
  /** Raw sockets whose handshake is in progress (closed on shutdown). */
  private readonly handshaking = new Set<Socket>();
  private readonly ticketKeys = randomBytes(48);
  private clientCa: Buffer | null = null;
  private watch: FileWatch | null = null;
  private tlsConfig!: TlsConfig;
  /** The TLS server the listening socket's connections are handed to (set by createServer, during super()). */
  declare private tlsServer: TlsServer;
  /** Some connection came through the PROXY stage (its address is then looked up in serve()). */
  private proxySeen = false;

  constructor(config: ListenerConfig, snapshot: ServiceSnapshot, metrics: Metrics) {
    super(config, snapshot, metrics);
    this.applyTls(config, true);
  }

  protected override createServer(onSocket: (socket: Socket) => void): Server {
    const tls = this.config.tls as TlsConfig;
    const server: TlsServer = createTlsServer({
      noDelay: true, allowHalfOpen: true, keepAlive: true,
      handshakeTimeout: this.config.timeouts.clientHello,
      requestCert: tls.clientAuth !== undefined,
      rejectUnauthorized: tls.clientAuth?.required ?? false,
      SNICallback: (servername, cb) => this.onServerName(servername, cb),
      ALPNCallback: ({ protocols }) => selectAlpn(protocols, this.config.http2.enabled),
    }, onSocket as (socket: TLSSocket) => void);
    this.tlsServer = server;
    server.on('connection', (raw: Socket) => {
      this.handshaking.add(raw);
      raw.once('close', () => this.handshaking.delete(raw));
    });
    server.on('secureConnection', (s: TLSSocket) => {
      const raw = (s as unknown as { _parent?: Socket })._parent;
      if (raw !== undefined) this.handshaking.delete(raw);
    });
    server.on('tlsClientError', () => this.onProtocolError('FULCRUM_E_TLS_HANDSHAKE'));
    return createNetServer({ noDelay: true, allowHalfOpen: true, keepAlive: true }, (raw) => {
      const pt = this.proxyTrust;
      if (pt === null) server.emit('connection', raw);
      else if (this.draining) raw.destroy();
      else startProxyStage(raw, pt, this);
    });
  }

  /** The PROXY header was read off the raw socket: TLS takes it from here (the address waits in `proxiedIps`). */
  override proxied(raw: Socket, sourceIp: string | null): void {
    if (this.draining) {
      raw.destroy();
      return;
    }
    if (sourceIp !== null) {
      this.proxySeen = true;
      proxiedIps.set(raw, sourceIp);
    }
    this.tlsServer.emit('connection', raw);
  }

  /** TLS sockets arrive after the handshake: any PROXY header was read before it (see createServer). */
  protected override accept(socket: Socket): void {
    this.serve(socket);
  }

  private onServerName(servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void {
    const store = this.store;
    if (store === null) cb(new Error('no certificate loaded'));
    else cb(null, store.select(servername).context);
  }

  protected override serve(socket: Socket): void {
    const ip = this.proxySeen ? proxiedIps.get((socket as unknown as { _parent?: Socket })._parent as Socket) : undefined;
    if ((socket as TLSSocket).alpnProtocol === 'h2') {
      const h2 = h2Handler();
      if (h2 !== null) h2(socket, this, null, ip);
      else socket.destroy(); // not offered without a handler; cannot happen
      return;
    }
    new ClientConn(socket, this, ip);
  }

  /** The header line (`Name: subject\r\n`) for a verified client certificate, '' without one, null when off. */
  certSubjectLine(socket: Socket): string | null {
    const name = this.clientCertHeader;
    if (name === null) return null;
    const s = socket as TLSSocket;
    if (!s.authorized) return '';
    return subjectHeaderLine(this.tlsConfig.clientAuth?.forwardSubject ?? name, s.getPeerX509Certificate()?.subject);
  }

  override update(config: ListenerConfig, snapshot: ServiceSnapshot): void {
    super.update(config, snapshot);
    this.applyTls(config, false);
  }

  override abandon(): void {
    this.stopTls();
    super.abandon();
  }

  override shutdown(graceMs: number): Promise<void> {
    this.stopTls();
    return super.shutdown(graceMs);
  }

  private stopTls(): void {
    this.watch?.close();
    this.watch = null;
    for (const raw of this.handshaking) raw.destroy();
    this.handshaking.clear();
  }

  /**
   * Takes a (new) `tls` section: client CA, verification mode, certificates, file watch. The config
   * check reads the same files just before, so a file fails here only in a race: it is logged and
   * skipped (at construction) or the certificate in service stays (later); never a throw.
   */
  private applyTls(config: ListenerConfig, first: boolean): void {
    const tls = config.tls as TlsConfig;
    this.tlsConfig = tls;
    const server = this.tlsServer as TlsServer & { requestCert: boolean; rejectUnauthorized: boolean };
    server.requestCert = tls.clientAuth !== undefined;
    server.rejectUnauthorized = tls.clientAuth?.required ?? false;
    this.clientCertHeader = tls.clientAuth?.forwardSubject?.toLowerCase() ?? null;
    if (tls.clientAuth !== undefined) {
      try {
        this.clientCa = loadCaFile(tls.clientAuth.ca);
      } catch (err) {
        this.logError(tls.clientAuth.ca, err as Error);
      }
    } else this.clientCa = null;
    this.reloadCertificates(first, true);
    this.watch?.close();
    const files = tls.certificates.flatMap((c) => [c.cert, c.key]);
    if (tls.clientAuth !== undefined) files.push(tls.clientAuth.ca);
    this.watch = new FileWatch(files, () => this.onFilesChanged(), (dir, err) => {
      defaultLogger().warn({ listener: this.config.name, dir, err: err.message }, 'cannot watch certificate directory; certificates are re-read on config reload only');
    });
  }

  private onFilesChanged(): void {
    const ca = this.tlsConfig.clientAuth?.ca;
    let caChanged = false;
    if (ca !== undefined) {
      try {
        const pem = loadCaFile(ca);
        caChanged = this.clientCa === null || !pem.equals(this.clientCa);
        this.clientCa = pem;
      } catch (err) {
        this.logError(ca, err as Error);
      }
    }
    // A new client CA goes into every context: rebuild them all.
    this.reloadCertificates(false, caChanged);
  }

  /**
   * Loads every certificate of the current `tls` section. `force`: build new contexts even when
   * the files did not change (a config reload may change the version or the client CA).
   */
  private reloadCertificates(first: boolean, force: boolean): void {
    const tls = this.tlsConfig;
    const settings = { minVersion: tls.minVersion, clientCa: this.clientCa, ticketKeys: this.ticketKeys };
    const old = first || this.store === null ? [] : this.store.certs;
    const next: LoadedCert[] = [];
    let changed = force;
    for (const spec of tls.certificates as CertSpec[]) {
      const prev = old.find((c) => c.spec.cert === spec.cert && c.spec.key === spec.key);
      let loaded: LoadedCert;
      try {
        loaded = loadCertificate(spec, settings);
      } catch (err) {
        this.logError(spec.cert, err as Error);
        if (prev !== undefined) next.push(prev);
        continue;
      }
      const same = prev !== undefined && prev.certPem.equals(loaded.certPem) && prev.keyPem.equals(loaded.keyPem);
      if (same && !force) {
        next.push(prev);
        continue;
      }
      changed = true;
      if (!same) logLoaded(this.config.name, loaded);
      next.push(loaded);
    }
    if (!changed || next.length === 0) return;
    this.store = new CertStore(next);
    this.tlsServer.setSecureContext(this.store.default.options);
  }

  private logError(file: string, err: Error): void {
    defaultLogger().error({ listener: this.config.name, file, err: err.message, code: 'FULCRUM_E_TLS_CERTIFICATE' }, 'certificate file not loaded; the certificate in service (if any) stays');
  }
}

/** Soon-to-expire certificates are logged as warnings (clients refuse expired ones). */
const EXPIRY_WARNING_MS = 14 * 24 * 3600 * 1000;

function logLoaded(listener: string, c: LoadedCert): void {
  const fields = { listener, cert: c.spec.cert, serial: c.serial, names: c.names, notAfter: c.notAfter.toISOString() };
  const left = c.notAfter.getTime() - Date.now();
  if (left <= 0) defaultLogger().warn(fields, 'certificate loaded, but it has expired');
  else if (left < EXPIRY_WARNING_MS) defaultLogger().warn(fields, 'certificate loaded; it expires within 14 days');
  else defaultLogger().info(fields, 'certificate loaded');
}

/**
 * ALPN choice (RFC 7301 §3.2): `h2` when HTTP/2 is available and the listener's `http2.enabled`
 * (read per handshake, so a reload applies), else HTTP/1.x; undefined → no_application_protocol.
 */
function selectAlpn(protocols: string[], h2Enabled: boolean): string | undefined {
  if (h2Enabled && h2Handler() !== null && protocols.includes('h2')) return 'h2';
  if (protocols.includes('http/1.1')) return 'http/1.1';
  if (protocols.includes('http/1.0')) return 'http/1.0';
  return undefined;
}

registerListenerKind('https', (config, snapshot, metrics) => new HttpsListener(config, snapshot, metrics));
