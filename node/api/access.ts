import {
  AccessServiceClient,
  AccessServiceService,
  type ClientGrant,
  type ClientInfo,
  type ListClientsRequest,
  type GrantAccessRequest,
  type GrantAccessResponse,
  type ListAuditRequest,
  type ListAuditResponse,
  type ListClientsResponse,
  type RevokeAccessRequest,
  type RevokeAccessResponse,
  type RotateAccessRequest,
  type RotateAccessResponse,
} from '../../gen/tongxing/api/v1/access.js';
import { ValidationError } from '../../federation/errors.js';
import type { AccessGuard } from '../access/guard.js';
import type { Client } from '../access/registry.js';
import { apiChannel, unaryCall, type ApiClientOptions, type UnaryMethod } from './client.js';
import type { ApiService } from './service.js';

// AccessService: the node's registered clients and its audit trail, for
// `tongxing access` and `tongxing audit` (scope operate, like all of it).

export function clientInfo(client: Client): ClientInfo {
  return {
    name: client.name,
    scopes: [...client.scopes],
    expiresAtMs: BigInt(client.expiresAtMs),
    credential: client.credential,
    fingerprint: client.fingerprint,
    createdAtMs: BigInt(client.createdAtMs),
    revokedAtMs: BigInt(client.revokedAtMs),
    approver: client.approverPublicKey !== undefined,
    note: client.note,
    callsPerSecondMax: client.callsPerSecondMax,
  };
}

export function accessService(guard: AccessGuard): ApiService {
  const { registry, audit } = guard;

  async function grantAccess(request: GrantAccessRequest): Promise<GrantAccessResponse> {
    const grant = request.grant;
    if (!grant) throw new ValidationError('grant', 'missing');
    const { client, token } = registry.grant({ ...grant, expiresAtMs: Number(grant.expiresAtMs) });
    return { client: clientInfo(client), token: token ?? '' };
  }

  async function listClients(): Promise<ListClientsResponse> {
    return { clients: registry.list().map(clientInfo) };
  }

  async function revokeAccess(request: RevokeAccessRequest): Promise<RevokeAccessResponse> {
    return { client: clientInfo(registry.revoke(request.name)) };
  }

  async function rotateAccess(request: RotateAccessRequest): Promise<RotateAccessResponse> {
    const { client, token } = registry.rotate(request.name, request.certificateDer);
    return { client: clientInfo(client), token: token ?? '' };
  }

  async function listAudit(request: ListAuditRequest): Promise<ListAuditResponse> {
    const { records, truncated } = await audit.read({ client: request.client, sinceMs: Number(request.sinceMs), limit: request.limit });
    return { records: records.map((r) => ({ ...r, atMs: BigInt(r.atMs) })), truncated };
  }

  return { definition: AccessServiceService, handlers: { grantAccess, listClients, revokeAccess, rotateAccess, listAudit } };
}

/** The CLI's side of AccessService, with the deadlines and errors of the other API clients. */
export function accessClient(address: string, options: ApiClientOptions = {}) {
  const channel = apiChannel(address, options);
  const client = new AccessServiceClient(address, channel.credentials, channel.options);
  const call = <Request, Response>(method: UnaryMethod<Request, Response>, request: Request) => unaryCall(address, method.bind(client), request, undefined, channel.metadata());
  return {
    /** The credential the CLI called with: its server certificate and addresses go into credentials it makes. */
    credential: channel.credential,
    grant: (grant: ClientGrant) => call<GrantAccessRequest, GrantAccessResponse>(client.grantAccess, { grant }),
    list: () => call<ListClientsRequest, ListClientsResponse>(client.listClients, {}),
    revoke: (name: string) => call<RevokeAccessRequest, RevokeAccessResponse>(client.revokeAccess, { name }),
    rotate: (name: string, certificateDer?: Uint8Array) => call<RotateAccessRequest, RotateAccessResponse>(client.rotateAccess, { name, certificateDer: Buffer.from(certificateDer ?? []) }),
    audit: (request: ListAuditRequest) => call<ListAuditRequest, ListAuditResponse>(client.listAudit, request),
    close: () => client.close(),
  };
}
