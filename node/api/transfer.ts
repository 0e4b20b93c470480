import { randomBytes } from 'node:crypto';
import {
  TransferKind,
  TransferServiceService,
  type AbortImportRequest,
  type AbortImportResponse,
  type CommitImportRequest,
  type CommitImportResponse,
  type GetImportRequest,
  type GetImportResponse,
  type ImportRecordsRequest,
  type ImportRecordsResponse,
  type StageImportRequest,
  type StageImportResponse,
} from '../../gen/tongxing/api/v1/transfer.js';
import { ValidationError } from '../../federation/errors.js';
import { deriveExpertRef } from '../../federation/experts/pseudonym.js';
import type { Caller } from '../access/guard.js';
import { commitStaged } from './transfer-commit.js';
import { exportRecords } from './transfer-export.js';
import { expertsRuntime } from './experts-runtime.js';
import { StagedImport, StagedImports, type ImportKind } from './transfer-imports.js';
import type { RowContext } from './transfer-rows.js';
import type { ApiContext, ApiService } from './service.js';

// TransferService: bulk import (all or nothing) and paged export of entities,
// sanctions, certificates (with CRLs) and experts. Rows are validated as
// records when staged (transfer-rows.ts), then against this node's state (an
// entity whose home node is another member, a sanction id already used for a
// different sanction, a certificate recorded for another holder, ...) and only
// when no row fails are they all written. Staged imports and their bounds:
// transfer-imports.ts; the commit: transfer-commit.ts and its planners; export
// pages: transfer-export.ts.

const kindNames: Partial<globalThis.Record<TransferKind, ImportKind>> = {
  [TransferKind.TRANSFER_KIND_ENTITIES]: 'entities',
  [TransferKind.TRANSFER_KIND_SANCTIONS]: 'sanctions',
  [TransferKind.TRANSFER_KIND_CERTIFICATES]: 'certificates',
  [TransferKind.TRANSFER_KIND_EXPERTS]: 'experts',
};

function kindOf(kind: TransferKind, field = 'kind'): ImportKind {
  const name = kindNames[kind];
  if (!name) throw new ValidationError(field, kind === TransferKind.TRANSFER_KIND_UNSPECIFIED ? 'missing' : `unknown value ${kind}`);
  return name;
}

export function transferService(c: ApiContext): ApiService {
  const imports = new StagedImports({ clock: c.clock, newId: () => randomBytes(16).toString('hex') });

  /** Expert rows get their ref from this node's id and secret salt as they are staged. */
  async function contextOf(kind: ImportKind): Promise<RowContext> {
    if (kind !== 'experts') return {};
    const salt = await expertsRuntime(c).privateStore.salt();
    return { expertRefOf: (idCardNumber) => deriveExpertRef(c.replica.nodeId, idCardNumber, salt) };
  }

  async function importRecords(request: ImportRecordsRequest): Promise<ImportRecordsResponse> {
    const kind = kindOf(request.kind);
    const staged = new StagedImport(kind, undefined, await contextOf(kind));
    staged.stage(request.items, 0);
    try {
      return { report: await commitStaged(c, staged, request.dryRun) };
    } finally {
      staged.release();
    }
  }

  // A staged import is its client's: another client (even one with the same scopes) can neither see nor commit it.
  async function stageImport(request: StageImportRequest, caller: Caller): Promise<StageImportResponse> {
    const kind = request.importId === '' || request.kind !== TransferKind.TRANSFER_KIND_UNSPECIFIED ? kindOf(request.kind) : undefined;
    const id = request.importId === '' ? imports.start(kind!, caller.client, await contextOf(kind!)).id : request.importId;
    const staged = imports.stage(id, request.items, request.firstRow, kind, caller.client);
    return { importId: id, stagedRows: staged.import.rows, errors: staged.errors, expiresAtMs: BigInt(staged.expiresAtMs) };
  }

  async function commitImport(request: CommitImportRequest, caller: Caller): Promise<CommitImportResponse> {
    if (request.dryRun) {
      const staged = imports.dryRun(request.importId, caller.client);
      if (request.rows !== staged.rows) throw new ValidationError('rows', `${request.rows}, but ${staged.rows} rows are staged`);
      return { report: await commitStaged(c, staged, true) };
    }
    return { report: await imports.commit(request.importId, request.rows, (staged) => commitStaged(c, staged, false), caller.client) };
  }

  async function getImport(request: GetImportRequest, caller: Caller): Promise<GetImportResponse> {
    const status = imports.status(request.importId, caller.client);
    return {
      state: status.state,
      stagedRows: status.rows,
      rowsWritten: status.recordsWritten,
      report: status.report,
      detail: status.detail,
      expiresAtMs: BigInt(status.expiresAtMs ?? 0),
    };
  }

  async function abortImport(request: AbortImportRequest, caller: Caller): Promise<AbortImportResponse> {
    return { state: imports.abort(request.importId, caller.client) };
  }

  return { definition: TransferServiceService, handlers: { importRecords, stageImport, commitImport, getImport, abortImport, exportRecords: (request) => exportRecords(c, kindOf(request.kind), request) } };
}
