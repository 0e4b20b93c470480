import { ScoreSheet, type EvaluationScore } from '../../gen/tongxing/records/v1/records.js';
import { parseCertificate } from '../crypto/x509.js';
import { sign, verify, type Sm2KeyPair } from '../crypto/sm2.js';
import { TongxingError } from '../errors.js';

// Score sheets: an expert signs its sheet with its certificate's SM2 key (USB
// key); the host records the sheet bytes exactly as signed, with the signature
// and the certificate, so any node checks the signature offline. Whether the
// certificate belongs to the expert is a question for the certificate records
// (CertificateRecord with holder expert_ref), answered through
// ExpertKeyResolver so the score code does not depend on how they are viewed.

/** Domain separation: a score signature can never be replayed as another kind of signed message. */
const scoreSigningLabel = Buffer.from('tongxing-score', 'utf8');

export function scoreSigningBytes(sheetBytes: Uint8Array): Buffer {
  return Buffer.concat([scoreSigningLabel, sheetBytes]);
}

/** The expert's side: encodes and signs a sheet (DER signature). */
export function signScoreSheet(sheet: ScoreSheet, key: Sm2KeyPair, certificateDer: Uint8Array): EvaluationScore {
  const bytes = Buffer.from(ScoreSheet.encode(sheet).finish());
  return { sheet: bytes, signature: sign(key.privateKey, scoreSigningBytes(bytes), key.publicKey), certificateDer: Buffer.from(certificateDer) };
}

export type SignatureCheck = { readonly ok: true; readonly publicKey: Uint8Array } | { readonly ok: false; readonly reason: string };

/**
 * Whether the sheet's signature verifies under the public key of the
 * certificate it carries. Says nothing about whose certificate it is.
 */
export function checkScoreSignature(score: EvaluationScore): SignatureCheck {
  let publicKey: Uint8Array;
  try {
    publicKey = parseCertificate(score.certificateDer).publicKey;
  } catch (error) {
    if (error instanceof TongxingError) return { ok: false, reason: `certificateDer: ${error.message}` };
    throw error;
  }
  try {
    if (!verify(publicKey, scoreSigningBytes(score.sheet), score.signature)) {
      return { ok: false, reason: 'signature: does not verify under the certificate key' };
    }
  } catch (error) {
    if (error instanceof TongxingError) return { ok: false, reason: `signature: ${error.message}` };
    throw error;
  }
  return { ok: true, publicKey };
}

/** Is this certificate the expert's? Wired to the certificate view by the node. */
export interface ExpertKeyResolver {
  /**
   * `verified`: a certificate record binds this certificate to `expertRef` and
   * it was valid (chained to a trusted CA, not revoked) at `atMs`.
   */
  bindingOf(expertRef: string, certificateDer: Uint8Array, atMs: number): Promise<{ readonly verified: boolean; readonly detail: string }>;
}

/**
 * Until the certificate view answers: the certificate is only checked to be
 * an SM2 certificate valid at the time, and the binding is reported unverified.
 */
export const selfAssertedKeys: ExpertKeyResolver = {
  async bindingOf(_expertRef, certificateDer, atMs) {
    try {
      const certificate = parseCertificate(certificateDer);
      if (atMs < certificate.notBefore.getTime() || atMs > certificate.notAfter.getTime()) {
        return { verified: false, detail: `unverified: certificate not valid at ${new Date(atMs).toISOString()}` };
      }
      return { verified: false, detail: `unverified: no certificate record consulted (subject "${certificate.subject}")` };
    } catch (error) {
      if (error instanceof TongxingError) return { verified: false, detail: `unverified: ${error.message}` };
      throw error;
    }
  },
};
