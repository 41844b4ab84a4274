/**
 * A stored (uncompressed) .zip of Blobs, streamed with fflate's Zip + ZipPassThrough: the blobs are read in
 * chunks and the archive is a Blob made of those chunks, so no big buffer is built or copied twice.
 */
import { Zip, ZipPassThrough } from 'fflate';

export interface ZipEntry {
  name: string;
  blob: Blob;
}

export async function zipBlobs(entries: ZipEntry[]): Promise<Blob> {
  const parts: Uint8Array[] = [];
  let failure: Error | null = null;
  let finished!: () => void;
  const done = new Promise<void>((r) => (finished = r));
  const zip = new Zip((err, chunk, final) => {
    if (err) failure = err;
    else parts.push(chunk);
    if (err || final) finished();
  });
  for (const e of entries) {
    const file = new ZipPassThrough(e.name);
    file.mtime = new Date('2000-01-01T00:00:00Z');
    zip.add(file);
    const reader = e.blob.stream().getReader();
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      if (value.byteLength) {
        file.push(value);
      }
    }
    file.push(new Uint8Array(0), true);
  }
  zip.end();
  await done;
  if (failure) throw failure;
  return new Blob(parts as BlobPart[], { type: 'application/zip' });
}
