import { readFileSync } from 'node:fs';
import { readPrivateKeyPem } from '../../federation/crypto/pem.js';
import { accessClient } from '../api/access.js';
import type { ClientCredential } from '../access/credential.js';

// A console operator is a token client of the node (the console signs in with a
// bearer token: a browser cannot present a pinned TLS client certificate
// without the operator installing it, and tokens are what the HTTP API already
// takes besides certificates). Granted by the node's administrator like any
// client; the demo, the browser tests and the bench make theirs here.

export interface ConsoleOperatorGrant {
  /** The node's client API (host:port); its administrator credential is found as the CLI finds it. */
  readonly node: string;
  readonly name: string;
  readonly scopes: readonly string[];
  /** An SM2 private key file whose public key approves governance calls (the node's own key in the demo). */
  readonly approverKeyFile?: string;
  readonly note?: string;
  readonly credential?: ClientCredential;
}

/** Grants the client and returns its token (shown once by the node). */
export async function grantConsoleOperator(grant: ConsoleOperatorGrant): Promise<string> {
  const client = accessClient(grant.node, { credential: grant.credential });
  try {
    const approverPublicKey = grant.approverKeyFile ? Buffer.from(readPrivateKeyPem(readFileSync(grant.approverKeyFile, 'utf8')).publicKey) : Buffer.alloc(0);
    const answer = await client.grant({
      name: grant.name,
      scopes: [...grant.scopes],
      expiresAtMs: 0n,
      certificateDer: Buffer.alloc(0),
      approverPublicKey,
      note: grant.note ?? 'operator console',
      callsPerSecondMax: 0,
    });
    return answer.token;
  } finally {
    client.close();
  }
}
