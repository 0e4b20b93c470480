import type { SecureContextOptions, TLSSocket } from 'node:tls';
import { toPem } from '../../federation/crypto/pem.js';
import type { TlsIdentity } from '../peer/tls.js';
import type { AccessRegistry } from './registry.js';

// Transport security of the client API: the node presents its own API
// certificate (made at first start, pinned by clients through their
// credential files) and accepts exactly the client certificates the registry
// pins. gRPC requires one in the handshake; HTTPS also admits callers with no
// certificate (token clients), and closes a connection whose certificate is
// not pinned before reading a request from it. A registry change applies to
// new handshakes at once; calls on open connections are checked per call.
// Both servers terminate TLS themselves and read the client's certificate
// once per connection (ApiConnections), not once per call.

export class ApiTls {
  readonly #identity: TlsIdentity;
  readonly #registry: AccessRegistry;

  constructor(identity: TlsIdentity, registry: AccessRegistry) {
    this.#identity = identity;
    this.#registry = registry;
  }

  get certificatePem(): string {
    return this.#identity.certPem;
  }

  /** The pinned client certificates as a CA list; the node's own when none is pinned (nobody else holds its key). */
  #trusted(): Buffer {
    const pinned = this.#registry.pinnedCertificates();
    return Buffer.from(pinned.length > 0 ? pinned.map((der) => toPem('CERTIFICATE', der)).join('') : this.#identity.certPem);
  }

  #context(): SecureContextOptions {
    return { ca: this.#trusted(), cert: this.#identity.certPem, key: this.#identity.keyPem };
  }

  /** Options of the gRPC client API's TLS server: a pinned client certificate or no handshake; HTTP/2 only. */
  grpcOptions(): SecureContextOptions & { requestCert: true; rejectUnauthorized: true; ALPNProtocols: string[] } {
    return { ...this.#context(), requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] };
  }

  /** Options of the HTTPS server: token clients present no certificate. */
  httpsOptions(): SecureContextOptions & { requestCert: true; rejectUnauthorized: false } {
    return { ...this.#context(), requestCert: true, rejectUnauthorized: false };
  }

  /** Keeps a running server's trusted set current. */
  follow(server: { setSecureContext(options: SecureContextOptions): void }): void {
    this.#registry.onChange(() => server.setSecureContext(this.#context()));
  }
}

/**
 * The client certificate of each open TLS connection, read once at the
 * handshake (getPeerCertificate builds a whole object each time it is asked),
 * keyed by the connection's remote address and port, which no other open
 * connection can share. An entry goes when its connection closes, and only
 * its own: a lookup that finds nothing is refused, never guessed.
 */
export class ApiConnections {
  readonly #open = new Map<string, { socket: TLSSocket; certificateDer: Buffer | undefined }>();

  static peerOf(socket: { remoteAddress?: string; remotePort?: number }): string {
    return `${socket.remoteAddress}:${socket.remotePort}`;
  }

  /** Records a connection that finished its handshake; returns the certificate it presented, if any. */
  add(socket: TLSSocket): Buffer | undefined {
    const peer = ApiConnections.peerOf(socket);
    const certificateDer = socket.getPeerCertificate()?.raw;
    this.#open.set(peer, { socket, certificateDer });
    socket.once('close', () => {
      if (this.#open.get(peer)?.socket === socket) this.#open.delete(peer);
    });
    return certificateDer;
  }

  certificateOf(peer: string): Buffer | undefined {
    return this.#open.get(peer)?.certificateDer;
  }

  /** Ends every connection still open (a stop's grace period is over). */
  destroyAll(): void {
    for (const { socket } of this.#open.values()) socket.destroy();
  }
}
