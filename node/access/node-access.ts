import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { adminCallsPerSecondMax } from '../limits.js';
import { generateTlsIdentity, readTlsIdentity, writeTlsIdentity } from '../peer/tls.js';
import { AuditTrail } from './audit.js';
import { publishCredential, readCredential, writeCredential, type ClientCredential } from './credential.js';
import { AccessGuard } from './guard.js';
import { AccessRegistry } from './registry.js';
import { scopes, type MethodRule } from './scopes.js';
import { ApiTls } from './tls.js';

// A node's access control as it opens: the registry and the audit trail in
// its data directory, its client API TLS identity, and the administrator's
// credential, made at first start so the CLI works with no extra step (and
// made anew at a start that finds the file gone: deleting it and restarting
// is how a lost one is replaced). Secure by default: there is no switch.

export interface AccessInit {
  /** The node's data directory: access/ (registry, API TLS identity), audit/, admin.credential. */
  readonly dataDir: string;
  /** Host names and addresses clients reach the API by: in the API certificate, and the only Hosts HTTP accepts. */
  readonly names: readonly string[];
  /** The administrator approves governance calls with the node's own SM2 key (the file the CLI signs with). */
  readonly approverPublicKey: Uint8Array;
  readonly approverKeyFile: string;
  /** The gRPC status name of an error, for the audit trail. */
  readonly outcomeOf: (error: unknown) => string;
  readonly clock?: () => number;
  /** More method rules than the scope table's (tests serving probe services). */
  readonly rules?: Readonly<Record<string, MethodRule>>;
  readonly onAuditError?: (error: unknown) => void;
}

export interface NodeAccess {
  readonly guard: AccessGuard;
  readonly tls: ApiTls;
  /** DATADIR/admin.credential. */
  readonly adminCredentialFile: string;
  /** Writes the admin credential with the addresses the API is bound to, and points the CLI's lookup for `grpc` at it. */
  publishAdmin(addresses: { grpc: string; http: string }): ClientCredential;
}

export const adminClientName = 'admin';

export async function openAccess(init: AccessInit): Promise<NodeAccess> {
  const directory = join(init.dataDir, 'access');
  const registry = AccessRegistry.open(directory, init.clock);
  const audit = new AuditTrail(join(init.dataDir, 'audit'), init.clock);
  const tlsFile = join(directory, 'api-tls.pem');
  if (!existsSync(tlsFile)) writeTlsIdentity(tlsFile, await generateTlsIdentity('tongxing client API', init.names));
  const serverIdentity = readTlsIdentity(tlsFile);
  const tls = new ApiTls(serverIdentity, registry);
  const guard = new AccessGuard({ registry, audit, clock: init.clock, outcomeOf: init.outcomeOf, rules: init.rules, onAuditError: init.onAuditError });

  const adminCredentialFile = join(init.dataDir, 'admin.credential');
  let admin: { certificate: string; key: string };
  const current = registry.get(adminClientName);
  if (existsSync(adminCredentialFile) && current && current.revokedAtMs === 0) {
    const { certificate, key } = readCredential(adminCredentialFile);
    admin = { certificate: certificate!, key: key! };
  } else {
    const identity = await generateTlsIdentity(`${adminClientName} (tongxing CLI)`);
    admin = { certificate: identity.certPem, key: identity.keyPem };
    if (current && current.revokedAtMs === 0) registry.rotate(adminClientName, identity.certDer);
    else registry.grant({ name: adminClientName, scopes, certificateDer: identity.certDer, approverPublicKey: init.approverPublicKey, callsPerSecondMax: adminCallsPerSecondMax, note: 'the CLI on the node machine (made at first start)' });
  }

  return {
    guard,
    tls,
    adminCredentialFile,
    publishAdmin(addresses) {
      const credential: ClientCredential = {
        client: adminClientName,
        grpc: addresses.grpc,
        http: addresses.http,
        serverCertificate: serverIdentity.certPem,
        certificate: admin.certificate,
        key: admin.key,
        approverKeyFile: init.approverKeyFile,
      };
      writeCredential(adminCredentialFile, credential);
      publishCredential(addresses.grpc, adminCredentialFile);
      return credential;
    },
  };
}
