import { ServerCredentials } from '@grpc/grpc-js';
import type { SecureContextOptions } from 'node:tls';
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

  /** Mutual TLS, following the registry without a restart. */
  grpcServerCredentials(): ServerCredentials {
    const server = ServerCredentials.createSsl(this.#trusted(), [{ private_key: Buffer.from(this.#identity.keyPem), cert_chain: Buffer.from(this.#identity.certPem) }], true);
    // updateSecureContextOptions is public in grpc-js 1.14's JavaScript, protected in its typings (as in peer/tls.ts).
    const update = (server as unknown as { updateSecureContextOptions(options: SecureContextOptions): void }).updateSecureContextOptions.bind(server);
    this.#registry.onChange(() => update(this.#context()));
    return server;
  }

  /** Options of the HTTPS server; `follow` keeps a running server's trusted set current. */
  httpsOptions(): SecureContextOptions & { requestCert: true; rejectUnauthorized: false } {
    return { ...this.#context(), requestCert: true, rejectUnauthorized: false };
  }

  follow(server: { setSecureContext(options: SecureContextOptions): void }): void {
    this.#registry.onChange(() => server.setSecureContext(this.#context()));
  }
}
