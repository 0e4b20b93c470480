import { MemberRole, type Genesis, type GenesisBody, type GovernanceProposal, type Member } from '../../gen/tongxing/records/v1/records.js';
import { generateKeyPair, nodeIdOf, type Sm2KeyPair } from '../crypto/sm2.js';
import { recogniseEveryList } from '../views/recognition.js';
import { encodeGenesisBody, signAdmission, signGenesis, verifyGenesis, withSignature, type VerifiedGenesis } from './genesis.js';

// Builders for governance tests: founders with keys, a signed genesis, join requests.

export interface TestCity {
  readonly city: string;
  readonly regionCode: string;
  readonly keyPair: Sm2KeyPair;
  readonly nodeId: string;
  readonly member: Member;
}

const regions: Record<string, string> = { Kunming: '530100', Guiyang: '520100', Nanning: '450100', Chengdu: '510100', Chongqing: '500000', Lanzhou: '620100' };

export function testCity(city: string, roles: MemberRole[] = [MemberRole.MEMBER_ROLE_CITY_CENTER, MemberRole.MEMBER_ROLE_ADMIN]): TestCity {
  const keyPair = generateKeyPair();
  const regionCode = regions[city] ?? '510100';
  const member: Member = {
    publicKey: Buffer.from(keyPair.publicKey),
    city,
    regionCode,
    endpoints: [],
    roles,
    libp2pPeerId: '',
    tlsCertificate: Buffer.alloc(0),
    gossipAddresses: [],
  };
  return { city, regionCode, keyPair, nodeId: nodeIdOf(keyPair.publicKey), member };
}

export function testGenesisBody(founders: readonly TestCity[], edit: (body: GenesisBody) => void = () => {}): GenesisBody {
  const body: GenesisBody = {
    allianceName: 'Western cities trading alliance',
    founders: founders.map((f) => f.member),
    quorum: 2,
    trustedCaRoots: [],
    recognition: recogniseEveryList,
    freshnessBudgetMs: 60_000n,
    createdAtMs: BigInt(Date.UTC(2025, 0, 1)),
  };
  edit(body);
  return body;
}

/** A genesis signed by every founder. */
export function signedGenesis(founders: readonly TestCity[], edit?: (body: GenesisBody) => void): { genesis: Genesis; verified: VerifiedGenesis } {
  const bytes = encodeGenesisBody(testGenesisBody(founders, edit));
  let genesis: Genesis = { body: Buffer.from(bytes), signatures: [] };
  for (const founder of founders) genesis = withSignature(genesis, signGenesis(bytes, founder.keyPair));
  return { genesis, verified: verifyGenesis(genesis) };
}

export function admission(allianceId: Uint8Array, city: TestCity): GovernanceProposal['action'] {
  return { $case: 'addMember', value: { member: city.member, possessionSignature: signAdmission(allianceId, city.member, city.keyPair) } };
}
