import { hlcWallMs } from '../../federation/log/hlc.js';
import { certificateOutcome } from '../../federation/certificates.js';
import { parseCertificate } from '../../federation/crypto/x509.js';
import type { ExpertKeyResolver } from '../../federation/experts/scores.js';
import { TongxingError } from '../../federation/errors.js';
import * as queries from '../../federation/queries.js';
import type { Replica } from '../../federation/replica.js';
import { standingOf } from '../../federation/views/certificate.js';
import { LeaseDesk, type LeaseClient } from '../peer/evaluation.js';
import { StateExpertPrivateStore, type ExpertPrivateStore } from '../store/expert-private.js';
import type { ApiContext } from './service.js';

// What ExpertService and EvaluationService share beyond the ApiContext: the
// node's private expert store, its LeaseDesk (the one the peer service uses
// too, so a local draw and a remote host asking for the same expert are
// decided one at a time), the client that asks other home nodes, and how a
// score certificate is tied to an expert.

export interface EvaluationApiComponents {
  /** Default: under `private/` in the replica's store. */
  readonly privateStore?: ExpertPrivateStore;
  /** Must be the peer service's desk when both run; default: a desk of the API's own. */
  readonly desk?: LeaseDesk;
  /** Absent: only experts homed at this node can be leased (others count as unreachable). */
  readonly leaseClient?: LeaseClient;
  /** Default: the certificate view (a CertificateRecord binding the certificate to the expert). */
  readonly expertKeys?: ExpertKeyResolver;
}

/** The ApiContext with the optional evaluation components a node passes (node.ts). */
export type EvaluationApiContext = ApiContext & { readonly evaluation?: EvaluationApiComponents };

export interface ExpertsRuntime {
  readonly privateStore: ExpertPrivateStore;
  readonly desk: LeaseDesk;
  readonly leaseClient: LeaseClient | undefined;
  readonly expertKeys: ExpertKeyResolver;
}

const runtimes = new WeakMap<ApiContext, ExpertsRuntime>();

/** One runtime per context, so both services share the desk and the store. */
export function expertsRuntime(c: EvaluationApiContext): ExpertsRuntime {
  let runtime = runtimes.get(c);
  if (!runtime) {
    const given = c.evaluation ?? {};
    runtime = {
      privateStore: given.privateStore ?? new StateExpertPrivateStore(c.replica.store),
      desk: given.desk ?? new LeaseDesk(c.replica),
      leaseClient: given.leaseClient,
      expertKeys: given.expertKeys ?? certificateViewKeys(c.replica),
    };
    runtimes.set(c, runtime);
  }
  return runtime;
}

/**
 * Ties a score certificate to an expert through the certificate view: the
 * certificate must be recorded (chained to a CA the alliance trusted when it
 * was recorded) with holder = the expert, and be valid and unrevoked at `atMs`.
 */
export function certificateViewKeys(replica: Replica): ExpertKeyResolver {
  return {
    async bindingOf(expertRef, certificateDer, atMs) {
      let issuerNameHash: string;
      let serialNumber: string;
      try {
        ({ issuerNameHash, serialNumber } = parseCertificate(certificateDer));
      } catch (error) {
        if (error instanceof TongxingError) return { verified: false, detail: `unverified: ${error.message}` };
        throw error;
      }
      const resolved = await queries.getCertificate(replica, issuerNameHash, serialNumber);
      const holder = resolved.recording?.holder;
      if (!resolved.recording) return { verified: false, detail: 'unverified: no member has recorded this certificate' };
      if (holder?.expertRef !== expertRef) return { verified: false, detail: `unverified: the certificate is recorded for ${holder?.expertRef ?? holder?.uscc}, not ${expertRef}` };
      const standing = certificateOutcome(standingOf(resolved), atMs);
      const recorded = resolved.recording.at;
      if (standing.outcome !== 'valid') return { verified: false, detail: `unverified: certificate ${standing.outcome} (${standing.detail})` };
      return { verified: true, detail: `verified: recorded for ${expertRef} by ${recorded.author.slice(0, 12)} at ${new Date(hlcWallMs(BigInt(recorded.hlc))).toISOString()}` };
    },
  };
}
