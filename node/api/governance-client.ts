import { readFileSync } from 'node:fs';
import {
  GovernanceServiceClient,
  GovernanceServiceService,
  ApproveRequest,
  ProposeRequest,
  type ApproveResponse,
  type GetGovernanceResponse,
  type GetSnapshotResponse,
  type OptOutRequest,
  type OptOutResponse,
  type ProposeResponse,
} from '../../gen/tongxing/api/v1/governance.js';
import type { GovernanceProposal } from '../../gen/tongxing/records/v1/records.js';
import { readPrivateKeyPem } from '../../federation/crypto/pem.js';
import { sign, type Sm2KeyPair } from '../../federation/crypto/sm2.js';
import { approvalHeader, approvalMessage } from '../access/guard.js';
import { CredentialError } from '../access/credential.js';
import { apiChannel, unaryCall, type ApiClientOptions } from './client.js';

/**
 * The CLI's side: a GovernanceService client with the same deadlines and errors as the other API clients.
 * Proposals and approvals are signed with `approver` (default: the credential's approverKeyFile), the second factor the node checks.
 */
export function governanceClient(address: string, options: ApiClientOptions & { approver?: Sm2KeyPair } = {}): {
  propose(proposal: GovernanceProposal): Promise<ProposeResponse>;
  approve(proposalHash: Uint8Array): Promise<ApproveResponse>;
  getGovernance(): Promise<GetGovernanceResponse>;
  optOut(request: OptOutRequest): Promise<OptOutResponse>;
  getSnapshot(): Promise<GetSnapshotResponse>;
  close(): void;
} {
  const channel = apiChannel(address, options);
  const client = new GovernanceServiceClient(address, channel.credentials, channel.options);
  const approver = (): Sm2KeyPair => {
    if (options.approver) return options.approver;
    const file = channel.credential.approverKeyFile;
    if (!file) throw new CredentialError(`credential of ${channel.credential.client} names no approver key: pass --approver-key KEY.pem`);
    return readPrivateKeyPem(readFileSync(file, 'utf8'));
  };
  const approved = (path: string, bytes: Uint8Array) => {
    const metadata = channel.metadata();
    const key = approver();
    metadata.set(`${approvalHeader}-bin`, sign(key.privateKey, approvalMessage(path, bytes), key.publicKey));
    return metadata;
  };
  return {
    propose: (proposal) => {
      const request: ProposeRequest = { proposal };
      return unaryCall(address, client.propose.bind(client), request, undefined, approved(GovernanceServiceService.propose.path, ProposeRequest.encode(request).finish()));
    },
    approve: (proposalHash) => {
      const request: ApproveRequest = { proposalHash: Buffer.from(proposalHash) };
      return unaryCall(address, client.approve.bind(client), request, undefined, approved(GovernanceServiceService.approve.path, ApproveRequest.encode(request).finish()));
    },
    getGovernance: () => unaryCall(address, client.getGovernance.bind(client), {}, undefined, channel.metadata()),
    optOut: (request) => unaryCall(address, client.optOut.bind(client), request, undefined, channel.metadata()),
    getSnapshot: () => unaryCall(address, client.getSnapshot.bind(client), {}, undefined, channel.metadata()),
    close: () => client.close(),
  };
}
