import { describe, expect, it } from 'vitest';
import { certificateOutcome, requireSignatureEncoding, type CertificateFacts, type StandingInput } from './certificates.js';
import { issueCertificate, type IssueInput } from './crypto/issue.js';
import { sign, generateKeyPair, signatureToDer } from './crypto/sm2.js';
import { ValidationError } from './errors.js';

// The pure rules of logins: challenges (random, short-lived, single use) and
// the order in which a certificate's standing is decided.

describe('signature encodings', () => {
  it('accepts raw r||s and DER, as USB keys and OpenSSL write them', () => {
    const keys = generateKeyPair();
    const der = sign(keys.privateKey, Buffer.from('challenge'));
    expect(() => requireSignatureEncoding(der, 'signature')).not.toThrow();
    expect(() => requireSignatureEncoding(new Uint8Array(64).fill(1), 'signature')).not.toThrow();
    expect(() => requireSignatureEncoding(signatureToDer(new Uint8Array(64).fill(1)), 'signature')).not.toThrow();
  });

  it('refuses anything else naming the field', () => {
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(0), /^signature: missing$/],
      [new Uint8Array(63).fill(1), /neither raw r\|\|s \(64 bytes\) nor DER.*not starting with a SEQUENCE/],
      [Buffer.from([0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]), /SEQUENCE length does not match/],
      [Buffer.from([0x30, 0x05, 0x02, 0x01, 0x01, 0x02, 0x01]), /s has a bad length/],
      [Buffer.from([0x30, 0x06, 0x02, 0x01, 0x01, 0x04, 0x01, 0x01]), /s is not an INTEGER/],
      [Buffer.from([0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00]), /bytes after s/],
    ];
    for (const [bytes, message] of cases) {
      const error = (() => {
        try {
          requireSignatureEncoding(bytes, 'signature');
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as Error).message).toMatch(message);
    }
  });
});

describe('certificate standing', () => {
  const caKey = generateKeyPair();
  const userKey = generateKeyPair();
  /** Base64 DER of a certificate for userKey by an in-process CA; `edit` changes what it allows. */
  const issued = (edit: Partial<IssueInput> = {}): string =>
    issueCertificate({
      subject: { commonName: 'leaf' },
      publicKey: userKey.publicKey,
      issuer: { name: { commonName: 'Intermediate' }, keyPair: caKey },
      serialNumber: 0x1fn,
      notBefore: new Date(0),
      notAfter: new Date(10_000),
      ...edit,
    }).toString('base64');
  const facts: CertificateFacts = {
    serialNumber: '1f',
    issuerNameHash: 'ab'.repeat(32),
    subject: 'CN=leaf',
    issuer: 'CN=Intermediate',
    rootCa: 'CN=Root',
    rootFingerprint: 'cd'.repeat(32),
    notBeforeMs: 1000,
    notAfterMs: 2000,
    publicKey: '04',
    der: issued(),
  };
  const standing = (edit: Partial<StandingInput> = {}): StandingInput => ({ facts, refusals: [], revocations: [], ...edit });

  it('is valid inside the chain window, not yet valid before, expired after', () => {
    expect(certificateOutcome(standing(), 1000).outcome).toBe('valid');
    expect(certificateOutcome(standing(), 2000).outcome).toBe('valid');
    expect(certificateOutcome(standing(), 999).outcome).toBe('not-yet-valid');
    expect(certificateOutcome(standing(), 2001).outcome).toBe('expired');
  });

  it('is revoked from the revocation time on, before any other reason', () => {
    const revoked = standing({ revocations: [{ revokedAtMs: 1500, author: 'a', fromCrl: true }] });
    expect(certificateOutcome(revoked, 1499).outcome).toBe('valid');
    expect(certificateOutcome(revoked, 1500).outcome).toBe('revoked');
    expect(certificateOutcome(revoked, 5000).outcome).toBe('revoked'); // expired too, but revocation wins
    expect(certificateOutcome({ ...revoked, facts: undefined }, 1600).outcome).toBe('revoked');
  });

  it('is not recorded without an accepted record, untrusted when records were refused for their CA', () => {
    expect(certificateOutcome(standing({ facts: undefined }), 1500)).toMatchObject({ outcome: 'not-recorded', detail: 'no member has recorded this certificate' });
    const untrusted = { refusal: 'untrusted-ca', message: 'does not chain' } as const;
    const expired = { refusal: 'expired', message: 'certificate "CN=leaf" expired at ...' } as const;
    expect(certificateOutcome(standing({ facts: undefined, refusals: [expired, untrusted] }), 1500)).toMatchObject({ outcome: 'untrusted-ca' });
    expect(certificateOutcome(standing({ facts: undefined, refusals: [expired] }), 1500)).toMatchObject({ outcome: 'not-recorded', detail: expect.stringMatching(/no record of it counts: certificate "CN=leaf" expired/) });
  });

  // RFC 5280 4.2.1.3, 4.2.1.9, 4.2.1.12: a record accepted before the login-usage rule (its view
  // holds the facts) still does not log in, and the answer names the rule.
  it.each([
    ['keyEncipherment only', { keyUsage: ['keyEncipherment'] }, /keyUsage \(keyEncipherment\) lacks digitalSignature.*RFC 5280 4\.2\.1\.3/],
    ['a critical EKU of serverAuth only', { extendedKeyUsage: { purposes: ['1.3.6.1.5.5.7.3.1'], critical: true } }, /extendedKeyUsage \(serverAuth\) allows neither clientAuth .*RFC 5280 4\.2\.1\.12/],
    ['a CA certificate', { ca: true }, /is a CA certificate \(basicConstraints CA:TRUE\).*RFC 5280 4\.2\.1\.9/],
  ] as const)('is not recorded when its certificate may not log in: %s', (_name, edit, rule) => {
    const misused = standing({ facts: { ...facts, der: issued(edit) } });
    expect(certificateOutcome(misused, 1500)).toMatchObject({ outcome: 'not-recorded', detail: expect.stringMatching(rule) });
    // Revocation still comes first.
    expect(certificateOutcome({ ...misused, revocations: [{ revokedAtMs: 1, author: 'a', fromCrl: false }] }, 1500).outcome).toBe('revoked');
  });

  it('logs in with clientAuth or anyExtendedKeyUsage among the purposes, and with nonRepudiation beside digitalSignature', () => {
    const allowed: Array<Partial<IssueInput>> = [
      { extendedKeyUsage: { purposes: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], critical: true } },
      { extendedKeyUsage: { purposes: ['2.5.29.37.0'], critical: false } },
      { keyUsage: ['digitalSignature', 'nonRepudiation'] },
    ];
    for (const edit of allowed) expect(certificateOutcome(standing({ facts: { ...facts, der: issued(edit) } }), 1500).outcome, JSON.stringify(edit)).toBe('valid');
  });

  it('is untrusted once the alliance distrusts its root, when the caller says so', () => {
    expect(certificateOutcome(standing(), 1500, (fingerprint) => fingerprint === facts.rootFingerprint).outcome).toBe('valid');
    expect(certificateOutcome(standing(), 1500, () => false)).toMatchObject({ outcome: 'untrusted-ca', detail: expect.stringMatching(/no longer trusts/) });
  });
});
