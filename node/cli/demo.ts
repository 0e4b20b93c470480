import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Verdict } from '../../gen/tongxing/api/v1/api.js';
import { AuditVerdict } from '../../gen/tongxing/api/v1/experts.js';
import { LoginOutcome } from '../../gen/tongxing/api/v1/certificates.js';
import type { CertificateRecord } from '../../gen/tongxing/records/v1/records.js';
import { issueCertificate } from '../../federation/crypto/issue.js';
import { generateKeyPair, sign } from '../../federation/crypto/sm2.js';
import { certificateRecord, entityProfile, evaluationSession, expertProfile, lift, residentId, sanction, usccFor } from '../../federation/testing/records.js';
import { connectDomainApi } from '../api/domain-client.js';
import { connectExperts } from '../api/experts-client.js';
import { connectApi, type ApiClient } from '../api/client.js';
import { startLocalAlliance, westernCities, type LocalAlliance } from '../local-alliance.js';
import { readCredential } from '../access/credential.js';
import { grantConsoleOperator } from '../console/operators.js';
import { exitNegative, exitOk, optional, printJson, UsageError, type Command } from './command.js';

// `make demo` on real node processes: "fail once, restricted everywhere", one
// USB key logging in at another city, and a remote expert draw across cities.

const pollIntervalMs = 2;
const dayMs = 86_400_000;
/** VERDICT_CLEAR -> clear, LOGIN_OUTCOME_CHALLENGE_USED -> challenge used. */
const spoken = (name: string | undefined, prefix: string): string => (name ?? 'unknown').replace(prefix, '').toLowerCase().replace(/_/g, ' ');

interface Actor {
  readonly api: ApiClient;
  readonly city: string;
}
const waitMsMax = 30_000;

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + waitMsMax;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${waitMsMax} ms`);
    await new Promise((ok) => setTimeout(ok, pollIntervalMs));
  }
}

/** Milliseconds from `startMs` until each city's answer satisfies `done`. */
function propagation(apis: ApiClient[], cities: string[], startMs: number, what: string, done: (api: ApiClient) => Promise<boolean>) {
  return Promise.all(
    apis.map(async (api, i) => {
      await until(`${what} at ${cities[i]}`, async () => ((await done(api)) ? true : undefined));
      return Date.now() - startMs;
    }),
  );
}

/** A CA the demo alliance trusts from its genesis, made in-process (no openssl needed). */
function demoCa() {
  const keyPair = generateKeyPair();
  const name = { commonName: 'Western Cities Demo CA' };
  const now = Date.now();
  const root = issueCertificate({ subject: name, publicKey: keyPair.publicKey, issuer: { name, keyPair }, serialNumber: 1n, notBefore: new Date(now - dayMs), notAfter: new Date(now + 3650 * dayMs), ca: true });
  const issue = (commonName: string, publicKey: Uint8Array, serialNumber: bigint) =>
    issueCertificate({ subject: { commonName }, publicKey, issuer: { name, keyPair }, serialNumber, notBefore: new Date(now - dayMs), notAfter: new Date(now + 365 * dayMs) });
  return { root, issue };
}

/** 一锁通行: a company's USB key certificate, recorded in the first city, logs in at the third. */
async function certificateScene(apis: ApiClient[], cities: string[], ca: ReturnType<typeof demoCa>, uscc: string, name: string, say: (line: string) => void) {
  const [home, , elsewhere] = [0, 1, 2].map((i) => connectDomainApi(apis[i]!.address));
  try {
    const usbKey = generateKeyPair();
    const certificate = ca.issue(`${name} ${uscc}`, usbKey.publicKey, 0x2026_1128n);
    const recordedAt = Date.now();
    await home!.recordCertificate(certificateRecord(certificate, { uscc }).kind!.value as CertificateRecord);
    say(`6. ${cities[0]} records ${name}'s USB-key certificate (SM2, issued by a CA the alliance trusts).`);
    const loginAt = async () => {
      const { challenge } = await elsewhere!.issueChallenge();
      return { challenge, answer: await elsewhere!.verifyLogin({ challenge, certificateDer: certificate, signature: sign(usbKey.privateKey, challenge, usbKey.publicKey) }) };
    };
    const { challenge, answer } = await until('the certificate at the third city', async () => {
      const attempt = await loginAt();
      return attempt.answer.valid ? attempt : undefined;
    });
    const holder = answer.holder?.id?.$case === 'entityUscc' ? `${answer.holder.name || answer.holder.id.value}` : 'an expert';
    say(`7. It logs in at ${cities[2]} ${Date.now() - recordedAt} ms later: the node's random challenge, signed by the USB key -> valid, ${holder}, CA "${answer.certificate?.rootCa}", sanctions now: ${spoken(Verdict[answer.sanctions?.verdict ?? 0], 'VERDICT_')}.`);
    const replay = await elsewhere!.verifyLogin({ challenge, certificateDer: certificate, signature: sign(usbKey.privateKey, challenge, usbKey.publicKey) });
    say(`   The same signed challenge sent again: refused (${spoken(LoginOutcome[replay.outcome], 'LOGIN_OUTCOME_')}).`);
    return { valid: answer.valid, replay: LoginOutcome[replay.outcome] };
  } finally {
    for (const api of [home, elsewhere]) api!.close();
  }
}

let person = 0;

/** 远程异地评标: the first city draws three experts from the other cities' libraries, leased by their home nodes, audited elsewhere. */
async function expertScene(addresses: string[], cities: string[], say: (line: string) => void) {
  const experts = addresses.map((address) => connectExperts(address));
  try {
    const slotFrom = Date.now() + 2 * dayMs;
    const refs: string[] = [];
    for (const [i, home] of experts.entries()) {
      if (i === 0) continue;
      const region = westernCities[i]![1];
      for (let n = 0; n < 2; n++) {
        const { expertRef } = await home.registerExpert(
          { idCardNumber: residentId(region, '19780312', 100 + ++person), name: `专家${i}${n}`, phone: '13800000000', birthday: '1978-03-12', employerName: '' },
          { ...expertProfile('', { specialties: ['A0801'], regionCode: region }), expertRef: '' },
        );
        await home.setAvailability({ expertRef, windows: [{ fromMs: BigInt(slotFrom - dayMs), untilMs: BigInt(slotFrom + dayMs) }] });
        refs.push(expertRef);
      }
    }
    say(`8. ${cities.slice(1).join(', ')} list ${refs.length} evaluation experts; ID numbers and phones stay at their home nodes, peers see pseudonyms (${refs[0]}).`);
    await until('the experts at the host', async () => ((await Promise.all(refs.map((ref) => experts[0]!.getExpert(ref)))).every((e) => e.found) ? true : undefined));
    const sessionId = `KM-PJ-${String(Date.now() % 100000).padStart(5, '0')}`;
    await experts[0]!.createSession(evaluationSession(slotFrom, { sessionId, otherCitiesOnly: true, requirements: [['A08', 3]] }));
    const drawn = await experts[0]!.drawExperts(sessionId);
    const panel = drawn.panel.map((seat) => `${seat.expertRef} (${seat.homeCity})`);
    say(`9. ${cities[0]} draws a remote panel of 3 for session ${sessionId}, other cities only, seed committed first: ${panel.join(', ')}; each home node granted the lease.`);
    const auditor = experts[2]!;
    const audit = await until('the draw at the auditor', async () => {
      const result = await auditor.auditDraw(sessionId);
      return result.verdict === AuditVerdict.AUDIT_VERDICT_INCOMPLETE ? undefined : result;
    });
    say(`10. ${cities[2]} re-runs the draw from its own copy of the logs: ${spoken(AuditVerdict[audit.verdict], 'AUDIT_VERDICT_')} (${audit.checks.length} checks).`);
    return { session: sessionId, panel: drawn.panel.map((seat) => ({ expert: seat.expertRef, home: seat.homeCity })), audit: AuditVerdict[audit.verdict] };
  } finally {
    for (const api of experts) api.close();
  }
}

/** The operator console at the first city, with a sign-in made for it: everything the demo's operator may do, approvals signed with that city's key. */
async function consoleSignIn(alliance: LocalAlliance) {
  const city = alliance.cities[0]!;
  const token = await grantConsoleOperator({
    node: city.apiAddress,
    name: 'demo-operator',
    scopes: ['check', 'register', 'sanction', 'experts', 'evaluation', 'governance', 'operate'],
    approverKeyFile: city.keyFile,
    note: 'make demo KEEP=1: the operator console',
  });
  return { city: city.city, url: `${readCredential(join(city.dataDir, 'admin.credential')).http}/console/`, token, approverKeyFile: city.keyFile };
}

/** Resolves on the first SIGINT or SIGTERM (Ctrl-C), which then stops the demo instead of the process. */
function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

const demo: Command = {
  path: ['demo'],
  summary: 'start a local alliance: a sanction enforced everywhere, a cross-city certificate login, a remote expert draw',
  usage:
    '[--cities N] [--keep] [--json]\n\n  --cities N  city nodes to start (3 to 12, default 3)\n  --keep      afterwards keep the nodes running, print the operator console\'s address and a sign-in, stop on Ctrl-C\n  --json      print one JSON object instead of the story\n',
  options: { cities: { type: 'string' }, json: { type: 'boolean' }, keep: { type: 'boolean' } },
  async run(args, io) {
    const count = Number(optional(args, 'cities') ?? 3);
    if (!Number.isInteger(count) || count < 3 || count > westernCities.length) throw new UsageError(`--cities must be 3 to ${westernCities.length}`);
    const json = args.values.json === true;
    const say = (line: string) => {
      if (!json) io.stdout(line + '\n');
    };

    say(`Starting ${count} city nodes on 127.0.0.1, each its own process with its own LevelDB, SM2 key and gossip peer...`);
    const ca = demoCa();
    // The demo's nodes publish their admin credentials where this process finds them, not in the user's ~/.tongxing.
    const home = process.env.TONGXING_HOME ? undefined : mkdtempSync(join(tmpdir(), 'tongxing-demo-home-'));
    if (home) process.env.TONGXING_HOME = home;
    const alliance = await startLocalAlliance({ cities: count, beaconIntervalMs: 1000, trustedCaRoots: [ca.root] }).catch((error: unknown) => {
      if (home) rmSync(home, { recursive: true, force: true });
      throw error;
    });
    const apis: ApiClient[] = [];
    try {
      const cities = alliance.cities.map((c) => c.city);
      apis.push(...alliance.cities.map((c) => connectApi(c.apiAddress)));
      const [a, b, c] = [0, 1, 2].map((i) => ({ api: apis[i]!, city: cities[i]! })) as [Actor, Actor, Actor];
      for (const city of alliance.cities) say(`  ${city.city.padEnd(9)} node ${city.nodeId.slice(0, 16)}  api ${city.apiAddress}`);

      // Every node must have heard every member before a "clear" can be trusted (freshness budget).
      await Promise.all(
        apis.map((api) => until('all members heard', async () => ((await api.getStatus()).members.every((m) => m.self || m.headAgeMs >= 0n) ? true : undefined))),
      );
      say(`All ${count} nodes hear each other.\n`);

      const uscc = usccFor(20261128);
      const name = 'Dianchi Road & Bridge Construction Co., Ltd.';
      const registered = Date.now();
      await a.api.registerEntity(entityProfile(uscc, name));
      const entityMs = await propagation(apis, cities, registered, 'the registration', async (api) => (await api.getEntity(uscc)).found);
      say(`1. ${a.city} registers ${name} (USCC ${uscc}); every city knows it within ${Math.max(...entityMs)} ms.`);

      const before = await c.api.checkSanctions(uscc);
      say(`2. ${c.city} checks it before bid opening: ${Verdict[before.verdict] === 'VERDICT_CLEAR' ? 'clear, may bid' : Verdict[before.verdict]}.`);

      const issuedAt = Date.now();
      const sanctionId = `GY-2026-${String(issuedAt % 100000).padStart(5, '0')}`;
      await b.api.issueSanction(sanction(sanctionId, uscc, issuedAt - 1000));
      const issueMs = await propagation(apis, cities, issuedAt, 'the sanction', async (api) => (await api.checkSanctions(uscc)).verdict === Verdict.VERDICT_RESTRICTED);
      const refused = await c.api.checkSanctions(uscc);
      const active = refused.sanctions[0]!;
      say(`3. ${b.city} puts it on the serious dishonesty list (${sanctionId}, bid rigging, ban for 1 year).`);
      say(`4. ${c.city} checks again: RESTRICTED by ${active.issued?.authorCity} (${active.sanction?.grounds}) - the bid is refused.`);
      say(`   Time from issue to enforcement: ${cities.map((city, i) => `${city} ${issueMs[i]} ms`).join(', ')}.`);

      const liftedAt = Date.now();
      await b.api.liftSanction(lift(sanctionId, liftedAt - 1));
      const liftMs = await propagation(apis, cities, liftedAt, 'the lift', async (api) => (await api.checkSanctions(uscc)).verdict === Verdict.VERDICT_CLEAR);
      say(`5. ${b.city} lifts it after credit repair; ${c.city} clears it: ${cities.map((city, i) => `${city} ${liftMs[i]} ms`).join(', ')}.`);
      say(`\nFail once, restricted everywhere: no central database, every record SM2-signed at its source.\n`);

      const login = await certificateScene(apis, cities, ca, uscc, name, say);
      const draw = await expertScene(alliance.cities.map((x) => x.apiAddress), cities, say);

      const keep = args.values.keep === true ? await consoleSignIn(alliance) : undefined;
      if (keep) {
        say(`The operator console of ${keep.city}: ${keep.url}`);
        say(`  (the node's own TLS certificate: the browser asks once whether to trust it)`);
        say(`  sign in with the token ${keep.token} and your name;`);
        say(`  to approve proposals, load ${keep.approverKeyFile} (the city's key) on the governance page.`);
        say('The nodes keep running: Ctrl-C stops them.');
      } else {
        say('`make demo KEEP=1` (tongxing demo --keep) keeps the nodes running and opens them to the operator console.');
      }
      if (json) {
        printJson(io, {
          ok: true,
          ...(keep ? { console: { url: keep.url, token: keep.token, approver_key_file: keep.approverKeyFile } } : {}),
          cities,
          uscc,
          sanction_id: sanctionId,
          registration_propagation_ms: Object.fromEntries(cities.map((city, i) => [city, entityMs[i]])),
          propagation_ms: Object.fromEntries(cities.map((city, i) => [city, issueMs[i]])),
          lift_propagation_ms: Object.fromEntries(cities.map((city, i) => [city, liftMs[i]])),
          login,
          draw,
        });
      }
      if (keep) await interrupted();
      return exitOk;
    } catch (error) {
      if (json) printJson(io, { ok: false, error: (error as Error).message });
      else io.stderr(`demo failed: ${(error as Error).message}\n`);
      for (const node of alliance.nodes) if (node) io.stderr(`--- ${node.files.city} log (tail) ---\n${node.log().slice(-2000)}\n`);
      return exitNegative;
    } finally {
      for (const api of apis) api.close();
      await alliance.stop();
      if (home) rmSync(home, { recursive: true, force: true });
      say('All nodes stopped.');
    }
  },
};

export const demoCommands: Command[] = [demo];
