import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BackupFileWriter } from './file.js';
import { removeTemporaryDirectories, temporaryDirectory } from './testing.js';

// Backup files are written under a temporary name and renamed into place.

afterAll(removeTemporaryDirectories);

describe('backup files', () => {
  it('refuses to overwrite a backup file unless forced, and leaves no partial file behind on abort', async () => {
    const dir = await temporaryDirectory();
    const file = join(dir, 'x.txbak');
    await writeFile(file, 'something');
    await expect(BackupFileWriter.create(file)).rejects.toMatchObject({ name: 'BackupTargetError' });
    const writer = await BackupFileWriter.create(file, true);
    await writer.write({ part: { $case: 'trailer', value: { chunks: 0n, entries: 0n } } });
    await writer.abort();
    expect(await readdir(dir)).toEqual(['x.txbak']);
    expect((await stat(file)).size).toBe('something'.length);
  });
});
