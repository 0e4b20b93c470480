import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { Genesis } from '../gen/tongxing/records/v1/records.js';
import { usccFor } from '../federation/testing/records.js';
import { connectApi } from './api/client.js';
import { ok, tongxing } from './cli/testing.js';
import { freePorts, startNodeProcess, type CityFiles, type NodeProcess } from './local-alliance.js';
import { eventually } from '../federation/testing/eventually.js';

// An alliance founded and grown the way docs/ALLIANCE.md tells admins to:
// every step is a `tongxing` command, and the nodes are real processes
// (bin/tongxing.js from dist/: `make test` builds first) on 127.0.0.1.



const nodes: NodeProcess[] = [];
let dir: string | undefined;
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const cities = [
  ['Kunming', '530100'],
  ['Guiyang', '520100'],
  ['Nanning', '450100'],
  ['Chengdu', '510100'],
] as const;

/** Keys and a node config per city, as an operator writes them (docs/ALLIANCE.md, step 1). */
async function prepareCity(root: string, city: string, region: string): Promise<CityFiles & { memberArgs: string[] }> {
  const slug = city.toLowerCase();
  const [peer, api, gossip] = await freePorts(3);
  const keyFile = join(root, 'keys', `${slug}.pem`);
  const { nodeId } = JSON.parse(await ok('keygen', '--out', keyFile, '--json')) as { nodeId: string };
  const config = {
    identity: { key: `keys/${slug}.pem` },
    dataDir: `data/${slug}`,
    alliance: 'genesis.json',
    peer: { listen: `127.0.0.1:${peer}` },
    api: { listen: `127.0.0.1:${api}` },
    http: { listen: '127.0.0.1:0' },
    gossip: { listen: `/ip4/127.0.0.1/tcp/${gossip}` },
    metrics: { listen: '' },
    sync: { antiEntropyIntervalMs: 500, beaconIntervalMs: 1000 },
  };
  const configFile = join(root, `${slug}.yaml`);
  writeFileSync(configFile, toYaml(config));
  return {
    city,
    regionCode: region,
    nodeId,
    keyFile,
    configFile,
    dataDir: join(root, 'data', slug),
    apiAddress: `127.0.0.1:${api}`,
    peerAddress: `127.0.0.1:${peer}`,
    memberArgs: ['--key', keyFile, '--city', city, '--region', region, '--peer', `127.0.0.1:${peer}`, '--gossip', `/ip4/127.0.0.1/tcp/${gossip}`],
  };
}

describe('alliance governance, end to end with the CLI', () => {
  it('founds a three-city alliance, onboards a fourth by quorum, and removes a member', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tongxing-governance-'));
    mkdirSync(join(dir, 'keys'));
    const genesis = join(dir, 'genesis.json');
    const [km, gy, nn, cd] = await Promise.all(cities.map(([city, region]) => prepareCity(dir!, city, region)));

    // Founding: member files, a draft, one signature per founder, finalize.
    for (const founder of [km!, gy!, nn!]) await ok('alliance', 'member', ...founder.memberArgs, '--out', join(dir, `${founder.city}.member.json`));
    await ok('alliance', 'draft', '--name', 'Western Cities Trading Alliance', ...[km!, gy!, nn!].flatMap((f) => ['--member', join(dir!, `${f.city}.member.json`)]), '--out', genesis);
    expect(await tongxing('alliance', 'finalize', genesis)).toMatchObject({ code: 1, stdout: expect.stringMatching(/not final: Kunming, Guiyang, Nanning must still sign/) });
    expect(await ok('alliance', 'sign', genesis, '--key', km!.keyFile)).toMatch(/still to sign: Guiyang, Nanning/);
    await ok('alliance', 'sign', genesis, '--key', gy!.keyFile);
    expect(await ok('alliance', 'sign', genesis, '--key', nn!.keyFile)).toMatch(/every founder has signed/);
    expect(await ok('alliance', 'finalize', genesis)).toMatch(/final: signed by all 3 founders/);
    // A non-founder cannot sign, and a tampered copy is refused.
    expect(await tongxing('alliance', 'sign', genesis, '--key', cd!.keyFile)).toMatchObject({ code: 2, stderr: expect.stringMatching(/not a founder/) });
    const tampered = join(dir, 'tampered.json');
    const file = JSON.parse(readFileSync(genesis, 'utf8'));
    const body = Genesis.fromJSON({ body: file.body, signatures: [] }).body;
    body.writeUInt8(body.readUInt8(body.length - 1) ^ 1, body.length - 1);
    writeFileSync(tampered, JSON.stringify({ ...file, allianceId: undefined, body: body.toString('base64') }));
    expect(await tongxing('alliance', 'finalize', tampered)).toMatchObject({ code: 2, stderr: expect.stringMatching(/the signature of \w+ .* does not verify: the body was changed after signing/) });

    for (const founder of [km!, gy!, nn!]) nodes.push(await startNodeProcess(founder));
    const [apiKm, apiGy, apiNn] = [km!, gy!, nn!].map((c) => connectApi(c.apiAddress));
    let apiCd: ReturnType<typeof connectApi> | undefined; // once Chengdu runs and has published its credential
    try {
      // Chengdu asks to join and starts from the genesis alone: it may not write yet.
      const join = `${dir}/chengdu.join.json`;
      await ok('alliance', 'join-request', '--genesis', genesis, ...cd!.memberArgs, '--out', join);
      nodes.push(await startNodeProcess(cd!));
      apiCd = connectApi(cd!.apiAddress);
      // Not a member yet: FAILED_PRECONDITION saying so, not INTERNAL.
      await expect(apiCd.registerEntity({ ...profile(usccFor(1)) })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringMatching(/not yet admitted/) });

      // Kunming proposes; one approval short of the quorum of 2, nothing changes.
      const proposed = JSON.parse(await ok('alliance', 'propose', 'add-member', join, '--reason', 'Chengdu joins the alliance', '--node', km!.apiAddress, '--json'));
      const pending = await eventually('Guiyang sees the proposal', async () => {
        const status = JSON.parse(await ok('alliance', 'status', '--node', gy!.apiAddress, '--json'));
        return status.proposals.find((p: { hash: string }) => p.hash === proposed.proposalHash);
      });
      expect(pending).toMatchObject({ state: 'pending', approvals: ['Kunming'], needed: 2 });
      await expect(apiCd!.registerEntity(profile(usccFor(1)))).rejects.toThrow(/not yet admitted/);

      // Guiyang approves: Chengdu is admitted everywhere, catches up, and its records count everywhere.
      await ok('alliance', 'approve', proposed.proposalHash, '--node', gy!.apiAddress);
      await apiKm!.registerEntity(profile(usccFor(2)));
      await eventually('Chengdu admitted and caught up', async () => (await apiCd!.getEntity(usccFor(2))).found);
      await eventually('Chengdu writes', async () => (await apiCd!.registerEntity(profile(usccFor(1)))).provenance);
      // It calls itself a member without a restart: in its log and its status.
      expect(nodes[3]!.log()).toContain('governance admitted this node: it is now the member Chengdu');
      expect((await apiCd!.getStatus()).city).toBe('Chengdu');
      for (const api of [apiKm!, apiGy!, apiNn!]) {
        await eventually(`${api.address} has Chengdu's record`, async () => (await api.getEntity(usccFor(1))).home?.authorCity === 'Chengdu');
      }
      const status = JSON.parse(await ok('alliance', 'status', '--node', nn!.apiAddress, '--json'));
      expect(status.epoch).toBe(1);
      // A member's signed snapshot: a node may start from it instead of the genesis (same alliance id).
      const snapshotFile = `${dir}/snapshot.json`;
      await ok('alliance', 'snapshot', '--out', snapshotFile, '--node', gy!.apiAddress);
      const snapshot = JSON.parse(readFileSync(snapshotFile, 'utf8'));
      expect(snapshot).toMatchObject({ format: 'tongxing-snapshot/1', allianceId: file.allianceId, description: { epoch: 1, signer: 'Guiyang' } });
      expect(snapshot.description.members.map((m: { city: string }) => m.city).sort()).toEqual(['Chengdu', 'Guiyang', 'Kunming', 'Nanning']);
      writeFileSync(cd!.configFile, readFileSync(cd!.configFile, 'utf8').replace('alliance: genesis.json', 'alliance: snapshot.json'));
      await nodes[3]!.stop();
      nodes[3] = await startNodeProcess(cd!);
      await eventually('Chengdu writes after restarting from the snapshot', async () => (await apiCd!.registerEntity(profile(usccFor(4)))).provenance);
      expect(status.members.map((m: { city: string; status: string }) => `${m.city}:${m.status}`).sort()).toEqual(['Chengdu:active', 'Guiyang:active', 'Kunming:active', 'Nanning:active']);

      // Removing Nanning: once a quorum approves, it can write no more.
      const removal = JSON.parse(await ok('alliance', 'propose', 'remove', 'Nanning', '--reason', 'left the alliance', '--node', km!.apiAddress, '--json'));
      await eventually('Chengdu sees the removal proposal', async () => {
        const s = JSON.parse(await ok('alliance', 'status', '--node', cd!.apiAddress, '--json'));
        return s.proposals.some((p: { hash: string }) => p.hash === removal.proposalHash);
      });
      await ok('alliance', 'approve', removal.proposalHash, '--node', cd!.apiAddress);
      await eventually('Nanning knows it is removed', async () => {
        const refused = await apiNn!.registerEntity(profile(usccFor(3))).then(() => undefined, (error: Error) => error.message);
        return refused !== undefined && /this node is removed/.test(refused) ? refused : undefined;
      });
      await eventually('Kunming lists Nanning as removed', async () => {
        const s = JSON.parse(await ok('alliance', 'status', '--node', km!.apiAddress, '--json'));
        return s.members.find((m: { city: string }) => m.city === 'Nanning').status === 'removed';
      });
    } finally {
      for (const api of [apiKm, apiGy, apiNn, apiCd]) api?.close();
    }
  }, 240_000);
});

function profile(uscc: string) {
  return { uscc, legalName: `Company ${uscc}`, roles: [1], legalRepresentative: '', legalType: '', regionCode: uscc.slice(2, 8), registeredCapital: '', legalStatus: '', usccOverride: undefined };
}
