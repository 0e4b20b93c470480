import {
  AlertServiceClient,
  CertificateServiceClient,
  type GetCertificateRequest,
  type GetCertificateResponse,
  type ImportCrlResponse,
  type IssueChallengeResponse,
  type ListAlertsResponse,
  type RecordCertificateResponse,
  type RevokeCertificateResponse,
  type VerifyLoginRequest,
  type VerifyLoginResponse,
} from '../../gen/tongxing/api/v1/certificates.js';
import {
  TransferServiceClient,
  type AbortImportResponse,
  type CommitImportRequest,
  type CommitImportResponse,
  type ExportRecordsRequest,
  type ExportRecordsResponse,
  type GetImportResponse,
  type ImportRecordsRequest,
  type ImportRecordsResponse,
  type StageImportRequest,
  type StageImportResponse,
} from '../../gen/tongxing/api/v1/transfer.js';
import type { CertificateRecord, CertificateRevocation, CertificateRevocationList } from '../../gen/tongxing/records/v1/records.js';
import { apiCallTimeoutMs } from '../limits.js';
import { apiChannel, unaryCall, using, type ApiClientOptions, type UnaryMethod } from './client.js';

// A promise-based client of the certificate, alert and transfer services of
// one node's client API, like client.ts for the others: every call has a
// deadline, every failure is an ApiError.

export interface DomainClient {
  readonly address: string;
  recordCertificate(record: CertificateRecord): Promise<RecordCertificateResponse>;
  revokeCertificate(revocation: CertificateRevocation): Promise<RevokeCertificateResponse>;
  importCrl(crl: CertificateRevocationList): Promise<ImportCrlResponse>;
  getCertificate(request: Partial<GetCertificateRequest>): Promise<GetCertificateResponse>;
  issueChallenge(): Promise<IssueChallengeResponse>;
  verifyLogin(request: Partial<VerifyLoginRequest> & Pick<VerifyLoginRequest, 'challenge' | 'signature'>): Promise<VerifyLoginResponse>;
  listAlerts(limit?: number): Promise<ListAlertsResponse>;
  importRecords(request: ImportRecordsRequest): Promise<ImportRecordsResponse>;
  stageImport(request: StageImportRequest): Promise<StageImportResponse>;
  commitImport(request: CommitImportRequest): Promise<CommitImportResponse>;
  getImport(importId: string): Promise<GetImportResponse>;
  abortImport(importId: string): Promise<AbortImportResponse>;
  exportRecords(request: ExportRecordsRequest): Promise<ExportRecordsResponse>;
  close(): void;
}

export function connectDomainApi(address: string, options: ApiClientOptions = {}): DomainClient {
  const timeoutMs = options.callTimeoutMs ?? apiCallTimeoutMs;
  const channel = apiChannel(address, options);
  const certificates = new CertificateServiceClient(address, channel.credentials, channel.options);
  const shared = { channelOverride: certificates.getChannel() };
  const alerts = new AlertServiceClient(address, channel.credentials, shared);
  const transfer = new TransferServiceClient(address, channel.credentials, shared);

  const call = <Request, Response>(client: object, method: UnaryMethod<Request, Response>, request: Request): Promise<Response> =>
    unaryCall(address, method.bind(client), request, timeoutMs, channel.metadata());

  return {
    address,
    recordCertificate: (record) => call(certificates, certificates.recordCertificate, { record }),
    revokeCertificate: (revocation) => call(certificates, certificates.revokeCertificate, { revocation }),
    importCrl: (crl) => call(certificates, certificates.importCrl, { crl }),
    getCertificate: (request) =>
      call(certificates, certificates.getCertificate, {
        certificateDer: Buffer.from(request.certificateDer ?? Buffer.alloc(0)),
        issuerNameHash: request.issuerNameHash ?? '',
        serialNumber: request.serialNumber ?? '',
        atMs: request.atMs ?? 0n,
      }),
    issueChallenge: () => call(certificates, certificates.issueChallenge, {}),
    verifyLogin: (request) =>
      call(certificates, certificates.verifyLogin, {
        challenge: Buffer.from(request.challenge),
        certificateDer: Buffer.from(request.certificateDer ?? Buffer.alloc(0)),
        issuerNameHash: request.issuerNameHash ?? '',
        serialNumber: request.serialNumber ?? '',
        signature: Buffer.from(request.signature),
      }),
    listAlerts: (limit = 0) => call(alerts, alerts.listAlerts, { limit }),
    importRecords: (request) => call(transfer, transfer.importRecords, request),
    stageImport: (request) => call(transfer, transfer.stageImport, request),
    commitImport: (request) => call(transfer, transfer.commitImport, request),
    getImport: (importId) => call(transfer, transfer.getImport, { importId }),
    abortImport: (importId) => call(transfer, transfer.abortImport, { importId }),
    exportRecords: (request) => call(transfer, transfer.exportRecords, request),
    close: () => certificates.close(),
  };
}

/** Connects, runs `use`, and closes the channel whatever happens. */
export function withDomainApi<T>(address: string, use: (api: DomainClient) => Promise<T>, options?: ApiClientOptions): Promise<T> {
  return using(connectDomainApi(address, options), use);
}
