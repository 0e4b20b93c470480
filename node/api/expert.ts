import {
  ExpertServiceService,
  type ExpertPersonal,
  type GetExpertRequest,
  type GetExpertResponse,
  type RegisterExpertRequest,
  type RegisterExpertResponse,
  type SetAvailabilityRequest,
  type SetAvailabilityResponse,
  type UpdateExpertRequest,
  type UpdateExpertResponse,
} from '../../gen/tongxing/api/v1/experts.js';
import type { Provenance as ApiProvenance } from '../../gen/tongxing/api/v1/api.js';
import { ExpertProfile, type Record as LogRecord } from '../../gen/tongxing/records/v1/records.js';
import { AlreadyExistsError, NotFoundError, PreconditionError, ValidationError } from '../../federation/errors.js';
import { birthdayOf, deriveExpertRef, residentIdProblem } from '../../federation/experts/pseudonym.js';
import { optionalText, requireExpertRef, requireText, validateExpertAvailability, validateExpertProfile } from '../../federation/records/validate.js';
import { leaseKey, type LeaseView } from '../../federation/views/evaluation.js';
import { expertKey, expertStanding, resolveExpert, type Expert, type ExpertView } from '../../federation/views/expert.js';
import { decodeView } from '../../federation/views/provenance.js';
import type { ExpertPersonalRecord } from '../store/expert-private.js';
import { expertsRuntime, type EvaluationApiContext } from './experts-runtime.js';
import type { ApiService } from './service.js';

// ExpertService: an expert is registered at its home node, which keeps the
// personal fields and replicates a pseudonymous profile; only the home node
// updates the profile or availability; any node shows the profile.

/** Mainland mobile (11 digits from 1) or a landline with area code, e.g. 0871-65123456. */
const phonePattern = /^(1\d{10}|0\d{2,3}-?\d{7,8})$/;

/** The personal fields, normalised (ID number upper case, birthday from it), or a ValidationError naming the field under `personal.`. */
export function checkPersonal(personal: ExpertPersonal | undefined): ExpertPersonal {
  if (!personal) throw new ValidationError('personal', 'missing');
  const idCardNumber = personal.idCardNumber.trim().toUpperCase();
  if (idCardNumber === '') throw new ValidationError('personal.idCardNumber', 'missing');
  const idProblem = residentIdProblem(idCardNumber);
  if (idProblem !== undefined) throw new ValidationError('personal.idCardNumber', idProblem);
  requireText(personal.name, 'personal.name', 64);
  if (personal.phone !== '' && !phonePattern.test(personal.phone)) {
    throw new ValidationError('personal.phone', 'must be a mobile number (11 digits from 1) or a landline with its area code (0871-65123456)');
  }
  const birthday = personal.birthday === '' ? birthdayOf(idCardNumber) : personal.birthday;
  if (birthday !== birthdayOf(idCardNumber)) {
    throw new ValidationError('personal.birthday', `${birthday} differs from the birth date in the ID card number (${birthdayOf(idCardNumber)})`);
  }
  optionalText(personal.employerName, 'personal.employerName', 200);
  return { ...personal, idCardNumber, birthday };
}

export function expertService(c: EvaluationApiContext): ApiService {
  return {
    definition: ExpertServiceService,
    handlers: {
      registerExpert: (request) => registerExpert(c, request),
      updateExpert: (request) => updateExpert(c, request),
      setAvailability: (request) => setAvailability(c, request),
      getExpert: (request) => getExpert(c, request),
    },
  };
}

async function updateExpert(c: EvaluationApiContext, request: UpdateExpertRequest): Promise<UpdateExpertResponse> {
  if (!request.profile) throw new ValidationError('profile', 'missing');
  validateExpertProfile(request.profile, 'profile');
  return writeHomed(c, request.profile.expertRef, 'profile.expertRef', { kind: { $case: 'expertProfile', value: request.profile } });
}

async function setAvailability(c: EvaluationApiContext, request: SetAvailabilityRequest): Promise<SetAvailabilityResponse> {
  if (!request.availability) throw new ValidationError('availability', 'missing');
  validateExpertAvailability(request.availability, 'availability');
  return writeHomed(c, request.availability.expertRef, 'availability.expertRef', { kind: { $case: 'expertAvailability', value: request.availability } });
}

/** Writes a record about expert `ref`, which must be homed here (only the home node writes its profile and availability). */
async function writeHomed(c: EvaluationApiContext, ref: string, field: string, record: LogRecord): Promise<{ provenance: ApiProvenance }> {
  return c.serial.run(expertKey(ref), async () => {
    await homedHere(c, ref, field);
    const written = await c.replica.write(record);
    return { provenance: c.provenance(written) };
  });
}

async function currentExpert(c: EvaluationApiContext, ref: string): Promise<Expert | undefined> {
  return resolveExpert(decodeView<ExpertView>(await c.replica.store.getState(expertKey(ref))), (author) => c.replica.isQuarantined(author));
}

/** The expert, which must be homed here (only the home node writes its profile and availability). */
async function homedHere(c: EvaluationApiContext, ref: string, field: string): Promise<Expert> {
  const standing = expertStanding(await currentExpert(c, ref), c.replica.nodeId);
  if (standing.standing === 'unregistered') throw new NotFoundError(`${field}: no expert ${ref} is registered (register it with RegisterExpert first)`);
  if (standing.standing === 'homed-elsewhere') {
    throw new PreconditionError(`${field}: expert ${ref} is homed at ${c.describe(standing.home.author)}; only its home node changes it`);
  }
  return standing.expert;
}

async function registerExpert(c: EvaluationApiContext, request: RegisterExpertRequest): Promise<RegisterExpertResponse> {
  const personal = checkPersonal(request.personal);
  if (!request.profile) throw new ValidationError('profile', 'missing');
  if (request.profile.expertRef !== '') throw new ValidationError('profile.expertRef', 'leave empty: the home node derives the pseudonymous ref');
  const expertRef = deriveExpertRef(c.replica.nodeId, personal.idCardNumber, await expertsRuntime(c).privateStore.salt());
  const profile: ExpertProfile = { ...request.profile, expertRef };
  validateExpertProfile(profile, 'profile');
  return c.serial.run(expertKey(expertRef), async () => {
    const existing = await currentExpert(c, expertRef);
    if (existing) {
      const same = Buffer.from(ExpertProfile.encode(existing.profile).finish()).equals(ExpertProfile.encode(profile).finish());
      if (!same) throw new AlreadyExistsError(`personal.idCardNumber: this person is already registered here as ${expertRef}; change the profile with UpdateExpert`);
      return { expertRef, provenance: c.provenance(existing.home), alreadyRegistered: true };
    }
    // Personal fields first: a crash before the profile is written leaves only a private record, never a profile without its person.
    const record: ExpertPersonalRecord = {
      expertRef,
      idCardNumber: personal.idCardNumber,
      name: personal.name,
      phone: personal.phone,
      birthday: personal.birthday,
      employerName: personal.employerName,
      registeredAtMs: c.clock.nowMs(),
    };
    await expertsRuntime(c).privateStore.putPersonal(record);
    const written = await c.replica.write({ kind: { $case: 'expertProfile', value: profile } });
    return { expertRef, provenance: c.provenance(written), alreadyRegistered: false };
  });
}

async function getExpert(c: EvaluationApiContext, request: GetExpertRequest): Promise<GetExpertResponse> {
  requireExpertRef(request.expertRef, 'expertRef');
  const expert = await currentExpert(c, request.expertRef);
  if (!expert) return { found: false, profile: undefined, home: undefined, availability: undefined, leases: [], personal: undefined };
  let personal: ExpertPersonal | undefined;
  if (request.includePersonal) {
    if (expertStanding(expert, c.replica.nodeId).standing !== 'homed-here') {
      throw new PreconditionError(`includePersonal: personal fields are kept only at the expert's home node, ${c.describe(expert.home.author)}`);
    }
    const record = await expertsRuntime(c).privateStore.personal(request.expertRef);
    personal = record && { idCardNumber: record.idCardNumber, name: record.name, phone: record.phone, birthday: record.birthday, employerName: record.employerName };
  }
  const leases = decodeView<LeaseView>(await c.replica.store.getState(leaseKey(expert.home.author, request.expertRef)))?.grants ?? [];
  return {
    found: true,
    profile: expert.profile,
    home: c.provenance(expert.home),
    availability: expert.availability,
    leases: leases.map((l) => ({
      host: Buffer.from(l.host, 'hex'),
      hostCity: c.cityOf(l.host),
      sessionId: l.sessionId,
      slot: { fromMs: BigInt(l.fromMs), untilMs: BigInt(l.untilMs) },
      granted: c.provenance(l.at),
    })),
    personal,
  };
}
