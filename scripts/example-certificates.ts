// Writes deploy/examples/certificates/: a small SM2 PKI made with the OpenSSL CLI (an
// independent SM2), three login certificates of the entities in deploy/examples/entities.json
// in three file forms, a CA-signed CRL, and the manifest naming each holder. The private keys
// stay in a temporary folder and are deleted: the example is for importing, not for logging in.
//
//   npx tsx scripts/example-certificates.ts
//
// Certificates are valid for 10 years from the run (OpenSSL 3.0 cannot backdate): run it
// again, and commit the result, before they expire (node/cli/examples.test.ts then fails).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { opensslCrl } from '../federation/crypto/testing/crl.js';
import { makeTempDir, openssl, opensslIssue } from '../federation/crypto/testing/openssl.js';

const out = join(import.meta.dirname, '..', 'deploy', 'examples', 'certificates');
const days = 3650;
const tmp = makeTempDir('tongxing-example-pki-');
try {
  rmSync(out, { recursive: true, force: true });
  for (const sub of ['ca', 'certs', 'crls']) mkdirSync(join(out, sub), { recursive: true });
  const root = opensslIssue(tmp, 'root', { subject: '/C=CN/O=云南省数字证书认证中心/CN=YNCA SM2 Root CA', profile: 'ca', days: 2 * days });
  const intermediate = opensslIssue(tmp, 'intermediate', { subject: '/C=CN/O=云南省数字证书认证中心/CN=YNCA SM2 Business CA', profile: 'ca_path_length_0', days, issuer: root });
  const leaf = (name: string, organisation: string, uscc: string) =>
    opensslIssue(tmp, name, { subject: `/C=CN/O=${organisation}/OU=${uscc}/CN=${organisation}`, profile: 'leaf_client_auth', days, issuer: intermediate });
  const dianchi = leaf('dianchi', '云南滇池建设工程有限公司', '91530100MA6K3Q7D46');
  const chuncheng = leaf('chuncheng', '昆明春城工程咨询有限公司', '91530100MA6N0B2CXQ');
  const chengtou = leaf('chengtou', '昆明市城市建设投资集团有限公司', '91530100216530123R');
  // The certificate Dianchi's new USB key replaced: revoked by the CA, and not imported.
  const superseded = leaf('dianchi-old', '云南滇池建设工程有限公司', '91530100MA6K3Q7D46');

  const pem = (file: string) => openssl(['x509', '-in', file]).toString('utf8');
  writeFileSync(join(out, 'ca', 'root.pem'), pem(root.cert));
  writeFileSync(join(out, 'ca', 'business-ca.pem'), pem(intermediate.cert));
  writeFileSync(join(out, 'certs', 'dianchi.pem'), pem(dianchi.cert)); // PEM
  writeFileSync(join(out, 'certs', 'chuncheng.cer'), openssl(['x509', '-in', chuncheng.cert, '-outform', 'DER'])); // DER
  writeFileSync(join(out, 'certs', 'chengtou.pem'), pem(chengtou.cert) + pem(intermediate.cert)); // leaf, then its CA
  writeFileSync(join(out, 'crls', 'business-ca.crl'), openssl(['crl', '-in', opensslCrl(tmp, 'business', intermediate, [{ cert: superseded.cert, reason: 'superseded' }])]));

  const serialOf = (file: string) => openssl(['x509', '-in', file, '-noout', '-serial']).toString('utf8').trim().replace(/^serial=/, '').toLowerCase().replace(/^0+(?=.)/, '');
  const manifest = [
    { CERT_FILE: 'certs/dianchi.pem', LEGAL_CODE: '91530100MA6K3Q7D46', LEGAL_NAME: '云南滇池建设工程有限公司' },
    { CERT_FILE: 'certs/chuncheng.cer', LEGAL_CODE: '91530100MA6N0B2CXQ', LEGAL_NAME: '昆明春城工程咨询有限公司' },
    { CERT_SERIAL: serialOf(chengtou.cert), LEGAL_CODE: '91530100216530123R', LEGAL_NAME: '昆明市城市建设投资集团有限公司' },
  ];
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  console.log(`wrote ${out}`);
} finally {
  tmp.remove();
}
