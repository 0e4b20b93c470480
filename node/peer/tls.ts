import { credentials, ServerCredentials, type ChannelCredentials } from '@grpc/grpc-js';
import { createPrivateKey, X509Certificate, webcrypto } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';
import * as asn1js from 'asn1js';
import { isIP } from 'node:net';
import { AttributeTypeAndValue, BasicConstraints, Certificate, CryptoEngine, Extension, ExtKeyUsage, GeneralName, GeneralNames, setEngine } from 'pkijs';
import { EncodingError } from '../../federation/errors.js';
import { tlsCertificateValidityDays } from '../limits.js';
import type { Member, Membership } from '../../federation/membership.js';

// TLS on node-to-node links. Each node has a self-signed ECDSA P-256
// certificate (TLS stacks do not speak SM2 signatures here); the membership
// records it, so each side pins exactly the certificates the alliance's
// governance admitted: the server accepts client certificates of active
// members only, a client accepts only the certificate recorded for the member
// it calls. The per-call SM2 credential then names the caller, and the server
// checks that it is the member whose certificate the TLS peer presented.

export interface TlsIdentity {
  readonly keyPem: string;
  readonly certPem: string;
  readonly certDer: Buffer;
}

setEngine('node', new CryptoEngine({ name: 'node', crypto: webcrypto as unknown as Crypto }));

const pem = (label: string, der: Uint8Array): string =>
  `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;

/** IPv4 or IPv6 text as the bytes an iPAddress general name holds. */
function ipBytes(address: string): Uint8Array {
  if (isIP(address) === 4) return Uint8Array.from(address.split('.').map(Number));
  const [head = '', tail = ''] = address.split('::');
  const groups = (text: string) => (text === '' ? [] : text.split(':').map((g) => parseInt(g, 16)));
  const left = groups(head);
  const right = address.includes('::') ? groups(tail) : [];
  const all = [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  return Uint8Array.from(all.flatMap((g) => [g >> 8, g & 0xff]));
}

/**
 * A new key and self-signed certificate for `commonName` (the member's city and node id, for humans).
 * `altNames` (host names and IP addresses) go into subjectAltName, for clients that check names (curl).
 */
export async function generateTlsIdentity(commonName: string, altNames: readonly string[] = []): Promise<TlsIdentity> {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const certificate = new Certificate();
  certificate.version = 2;
  // 16 random bytes, the first in 0x40..0x7f: positive, and never a leading zero byte (which DER forbids).
  certificate.serialNumber = new asn1js.Integer({ valueHex: webcrypto.getRandomValues(new Uint8Array(16)).map((b, i) => (i === 0 ? (b & 0x3f) | 0x40 : b)).buffer });
  const name = [new AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: commonName }) })];
  certificate.subject.typesAndValues = name;
  certificate.issuer.typesAndValues = name;
  const now = Date.now();
  certificate.notBefore.value = new Date(now - 60_000);
  certificate.notAfter.value = new Date(now + tlsCertificateValidityDays * 86_400_000);
  certificate.extensions = [
    new Extension({ extnID: '2.5.29.19', critical: true, extnValue: new BasicConstraints({ cA: false }).toSchema().toBER(false), parsedValue: new BasicConstraints({ cA: false }) }),
    new Extension({
      extnID: '2.5.29.37',
      extnValue: new ExtKeyUsage({ keyPurposes: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'] }).toSchema().toBER(false),
    }),
  ];
  if (altNames.length > 0) {
    const names = new GeneralNames({
      names: altNames.map((n) => (isIP(n) ? new GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: ipBytes(n).buffer as ArrayBuffer }) }) : new GeneralName({ type: 2, value: n }))),
    });
    certificate.extensions.push(new Extension({ extnID: '2.5.29.17', extnValue: names.toSchema().toBER(false) }));
  }
  await certificate.subjectPublicKeyInfo.importKey(keys.publicKey);
  await certificate.sign(keys.privateKey, 'SHA-256');
  const certDer = Buffer.from(certificate.toSchema(true).toBER(false));
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { keyPem: pem('PRIVATE KEY', new Uint8Array(pkcs8)), certPem: pem('CERTIFICATE', certDer), certDer };
}

/** One file holds the private key and the certificate, both PEM (mode 0600: it is a secret). */
export function writeTlsIdentity(path: string, identity: TlsIdentity): void {
  writeFileSync(path, identity.keyPem + identity.certPem, { mode: 0o600 });
}

export function readTlsIdentity(path: string): TlsIdentity {
  const text = readFileSync(path, 'utf8');
  const key = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n?/.exec(text)?.[0];
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/.exec(text)?.[0];
  if (!key || !cert) throw new EncodingError(`${path}: expected a PRIVATE KEY and a CERTIFICATE in PEM (made by 'tongxing keygen')`);
  try {
    createPrivateKey(key);
    const certDer = Buffer.from(new X509Certificate(cert).raw);
    return { keyPem: key, certPem: cert, certDer };
  } catch (error) {
    throw new EncodingError(`${path}: ${(error as Error).message}`);
  }
}

const certPemOf = (der: Uint8Array): string => pem('CERTIFICATE', der);

/**
 * Channel options of a peer link. Certificates are pinned, so the TLS server
 * name plays no part; a fixed one keeps Node from sending an IP address as SNI
 * (which RFC 6066 forbids, and Node warns about).
 */
export const peerTlsChannelOptions = { 'grpc.ssl_target_name_override': 'tongxing-peer' } as const;

/** Transport security for one node's peer links, following the membership as governance changes it. */
export class PeerTls {
  readonly #identity: TlsIdentity;
  readonly #members: Membership;
  #server: ServerCredentials | undefined;

  constructor(identity: TlsIdentity, members: Membership) {
    this.#identity = identity;
    this.#members = members;
  }

  get certificate(): Buffer {
    return this.#identity.certDer;
  }

  /** Active members' certificates: the only client certificates the server accepts. */
  #trusted(): Buffer {
    const pems = this.#members.active().filter((m) => (m.tlsCertificate?.length ?? 0) > 0).map((m) => certPemOf(m.tlsCertificate!));
    return Buffer.from(pems.join(''));
  }

  /** Requires a member's client certificate; the trusted set follows membership changes without a restart. */
  serverCredentials(): ServerCredentials {
    if (this.#server) return this.#server;
    const key = Buffer.from(this.#identity.keyPem);
    const cert = Buffer.from(this.#identity.certPem);
    const server = ServerCredentials.createSsl(this.#trusted(), [{ private_key: key, cert_chain: cert }], true);
    // updateSecureContextOptions is public in grpc-js 1.14's JavaScript, protected in its typings.
    const update = (server as unknown as { updateSecureContextOptions(options: SecureContextOptions): void }).updateSecureContextOptions.bind(server);
    this.#members.onChange(() => update({ ca: this.#trusted(), cert: [cert], key: [key] }));
    this.#server = server;
    return server;
  }

  /** Trusts exactly the certificate the membership records for `member`; presents ours. */
  channelCredentials(member: Member): ChannelCredentials {
    const expected = member.tlsCertificate;
    if (!expected || expected.length === 0) throw new EncodingError(`${member.city} (${member.nodeId.slice(0, 12)}) has no TLS certificate in the membership`);
    return credentials.createSsl(Buffer.from(certPemOf(expected)), Buffer.from(this.#identity.keyPem), Buffer.from(this.#identity.certPem), {
      // The certificate is pinned; host names play no part.
      checkServerIdentity: (_host, cert) =>
        Buffer.from(cert.raw).equals(expected) ? undefined : new Error(`${member.city} presented a TLS certificate other than the one its membership records`),
    });
  }
}
