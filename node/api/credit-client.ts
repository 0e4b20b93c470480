import {
  CreditServiceClient,
  type CheckTenderRequest,
  type CheckTenderResponse,
  type GetCreditIndexResponse,
  type GetEvaluationBonusResponse,
  type LiftCreditResponse,
  type ListExpertCreditResponse,
  type RecordCreditResponse,
} from '../../gen/tongxing/api/v1/credit.js';
import type { CreditLift, Record } from '../../gen/tongxing/records/v1/records.js';
import { apiCallTimeoutMs } from '../limits.js';
import { apiChannel, unaryCall, using, type ApiClientOptions, type UnaryMethod } from './client.js';

// A promise-based client of CreditService on one node, for the CLI and tests;
// failures are ApiErrors, as with the other services.

export interface CreditClient {
  readonly address: string;
  recordCredit(record: Record): Promise<RecordCreditResponse>;
  liftCredit(lift: CreditLift): Promise<LiftCreditResponse>;
  /** Exactly one of uscc and expertRef; day YYYY-MM-DD (default today). */
  getCreditIndex(subject: { uscc?: string; expertRef?: string }, day?: string): Promise<GetCreditIndexResponse>;
  listExpertCredit(day?: string, belowThresholdOnly?: boolean): Promise<ListExpertCreditResponse>;
  getEvaluationBonus(uscc: string, day?: string): Promise<GetEvaluationBonusResponse>;
  checkTender(request: CheckTenderRequest): Promise<CheckTenderResponse>;
  close(): void;
}

export function connectCredit(address: string, options: ApiClientOptions = {}): CreditClient {
  const timeoutMs = options.callTimeoutMs ?? apiCallTimeoutMs;
  const channel = apiChannel(address, options);
  const credit = new CreditServiceClient(address, channel.credentials, channel.options);
  const call = <Request, Response>(method: UnaryMethod<Request, Response>, request: Request): Promise<Response> => unaryCall(address, method, request, timeoutMs, channel.metadata());
  return {
    address,
    recordCredit: (record) => call(credit.recordCredit.bind(credit), { record }),
    liftCredit: (lift) => call(credit.liftCredit.bind(credit), { lift }),
    getCreditIndex: (subject, day = '') => call(credit.getCreditIndex.bind(credit), { uscc: subject.uscc ?? '', expertRef: subject.expertRef ?? '', day }),
    listExpertCredit: (day = '', belowThresholdOnly = false) => call(credit.listExpertCredit.bind(credit), { day, belowThresholdOnly }),
    getEvaluationBonus: (uscc, day = '') => call(credit.getEvaluationBonus.bind(credit), { uscc, day }),
    checkTender: (request) => call(credit.checkTender.bind(credit), request),
    close: () => credit.close(),
  };
}

export function withCredit<T>(address: string, use: (api: CreditClient) => Promise<T>, options?: ApiClientOptions): Promise<T> {
  return using(connectCredit(address, options), use);
}
