import type { ExportRecordsRequest, ExportRecordsResponse } from '../../gen/tongxing/api/v1/transfer.js';
import { ValidationError } from '../../federation/errors.js';
import { exportPageRowsMax } from '../limits.js';
import { stateRangeAfter } from '../../federation/scan.js';
import { resolveEntity, type EntityView } from '../../federation/views/entity.js';
import { decodeView } from '../../federation/views/provenance.js';
import { sanctionFromView, type SanctionView } from '../../federation/views/sanction.js';
import type { ImportKind } from './transfer-imports.js';
import type { ApiContext } from './service.js';

// Paged export of entities and sanctions, as the views resolve them (quarantined authors left out).

export async function exportRecords(c: ApiContext, kind: ImportKind, request: ExportRecordsRequest): Promise<ExportRecordsResponse> {
  const limit = request.limit === 0 ? exportPageRowsMax : Math.min(request.limit, exportPageRowsMax);
  const prefix = kind === 'entities' ? 'view/entity/' : request.ownOnly ? `view/sanction/${c.replica.nodeId}/` : 'view/sanction/';
  let after: string | undefined;
  if (request.pageToken !== '') {
    after = Buffer.from(request.pageToken, 'base64url').toString('utf8');
    if (!after.startsWith(prefix)) throw new ValidationError('pageToken', 'not a page token of this export (kind and ownOnly must stay the same)');
  }
  const page = await stateRangeAfter(c.replica.store, prefix, after, limit);
  const response: ExportRecordsResponse = { entities: [], sanctions: [], nextPageToken: '' };
  for (const [, bytes] of page) {
    if (kind === 'entities') {
      const entity = resolveEntity(decodeView<EntityView>(bytes), (author) => c.replica.isQuarantined(author));
      if (!entity || (request.ownOnly && entity.home.author !== c.replica.nodeId)) continue;
      response.entities.push({ profile: entity.profile, home: c.provenance(entity.home) });
    } else {
      const sanction = sanctionFromView(decodeView<SanctionView>(bytes)!);
      if (c.replica.isQuarantined(sanction.issued.author)) continue;
      response.sanctions.push({
        sanction: sanction.issue,
        issued: c.provenance(sanction.issued),
        lift: sanction.lift?.lift,
        lifted: sanction.lift && c.provenance(sanction.lift.lifted),
      });
    }
  }
  if (page.length === limit) response.nextPageToken = Buffer.from(page[page.length - 1]![0]).toString('base64url');
  return response;
}
