import { statSync } from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { makeTempDir, openssl, opensslVerifiesLink } from '../../federation/crypto/testing/openssl.js';
import { ok, tongxing } from './testing.js';

// `tongxing ca init|issue` make what OpenSSL reads, and read what OpenSSL makes:
// the root given to `alliance draft --trust-ca` may come from either.

function tempDir() {
  const dir = makeTempDir('tongxing-ca-');
  onTestFinished(() => dir.remove());
  return dir;
}

describe('tongxing ca', () => {
  it('init makes an SM2 root (CA, keyCertSign) and a 0600 key; a certificate it issues verifies under openssl and our chain check', async () => {
    const dir = tempDir();
    const root = dir.file('sm2-root.pem');
    expect(await ok('ca', 'init', '--out', root, '--name', 'Western Cities Trading Alliance Root CA')).toMatch(/root CA "Western Cities Trading Alliance Root CA" in .*sm2-root\.pem \(SM3 [0-9a-f]{64}\)/);
    expect(statSync(dir.file('sm2-root.key.pem')).mode & 0o777).toBe(0o600);
    const text = openssl(['x509', '-in', root, '-noout', '-text']).toString();
    expect(text).toMatch(/SM2-with-SM3/);
    expect(text).toMatch(/CA:TRUE/);
    expect(text).toMatch(/Certificate Sign, CRL Sign/);
    // openssl reads the key as its own kind.
    expect(openssl(['pkey', '-in', dir.file('sm2-root.key.pem'), '-noout', '-text']).toString()).toMatch(/SM2|ASN1 OID: SM2/);

    await ok('keygen', '--out', dir.file('holder.pem'));
    await ok('ca', 'issue', '--ca', root, '--pub', dir.file('holder.pub.pem'), '--name', 'Dianchi Road & Bridge 91530100MA6K000000', '--out', dir.file('holder.cert.pem'));
    expect(opensslVerifiesLink(root, dir.file('holder.cert.pem'))).toBe(true);
    expect(await ok('cert', 'verify', '--ca', root, dir.file('holder.cert.pem'), '--json')).toMatch(/"valid":true/);
  });

  it('issues under a root made by openssl, and refuses a key that is not the root\'s', async () => {
    const dir = tempDir();
    openssl(['genpkey', '-algorithm', 'SM2', '-out', dir.file('root.key.pem')]);
    openssl(['req', '-x509', '-new', '-key', dir.file('root.key.pem'), '-sm3', '-sigopt', 'distid:1234567812345678', '-subj', '/CN=OpenSSL Root', '-days', '30',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', dir.file('root.pem')]);
    await ok('keygen', '--out', dir.file('holder.pem'));
    await ok('ca', 'issue', '--ca', dir.file('root.pem'), '--pub', dir.file('holder.pub.pem'), '--name', 'holder', '--out', dir.file('holder.cert.pem'), '--days', '365');
    expect(opensslVerifiesLink(dir.file('root.pem'), dir.file('holder.cert.pem'))).toBe(true);
    // Not beyond the root's own validity (30 days), though 365 were asked for.
    const notAfter = new Date(/notAfter=(.*)/.exec(openssl(['x509', '-in', dir.file('holder.cert.pem'), '-noout', '-enddate']).toString())![1]!).getTime();
    expect(notAfter).toBeLessThanOrEqual(Date.now() + 31 * 86_400_000);

    await ok('ca', 'init', '--out', dir.file('other.pem'), '--name', 'Other');
    openssl(['genpkey', '-algorithm', 'SM2', '-out', dir.file('other.key.pem')]);
    expect(await tongxing('ca', 'issue', '--ca', dir.file('other.pem'), '--pub', dir.file('holder.pub.pem'), '--name', 'x', '--out', dir.file('x.pem'), '--force')).toMatchObject({ code: 2, stderr: expect.stringContaining('other.key.pem is not the key of') });
  });

  it('refuses to overwrite, and a bad --days, naming the option', async () => {
    const dir = tempDir();
    const root = dir.file('root.pem');
    await ok('ca', 'init', '--out', root, '--name', 'R');
    expect(await tongxing('ca', 'init', '--out', root, '--name', 'R')).toMatchObject({ code: 2, stderr: expect.stringContaining('root.pem exists; pass --force') });
    expect(await tongxing('ca', 'init', '--out', dir.file('b.pem'), '--name', 'R', '--days', '0')).toMatchObject({ code: 2, stderr: expect.stringContaining('--days must be a whole number') });
  });
});
