/**
 * The folded caffemodel as a downloadable file. Written to the origin-private file system (OPFS) through a sync
 * access handle, the chunks (views of the input and the new blobs) go straight to disk: no copy in memory, and the
 * File returned is read from disk when the user saves it. Where OPFS is unavailable (some private modes, a full
 * quota), a Blob is made instead: Chromium copies the chunks into its blob storage.
 *
 * Each worker writes into a folder of its own and keeps only its latest output there. It holds a Web Lock named
 * after that folder while it lives; folders whose lock nobody holds (closed tabs, restarted workers) are deleted
 * when a worker starts. The files never leave the machine: they live in this site's storage in the browser profile.
 */
const DIR = 'caffe-fold-outputs';
const SESSION = `s-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
const LOCK = (session: string) => `caffe-fold-output:${session}`;

export type OutputKind = 'opfs' | 'blob';

let held: Promise<void> | undefined;

/** Hold this worker's lock for as long as it lives (resolves once granted). */
function holdLock(): Promise<void> {
  held ??= new Promise<void>((granted, refused) => {
    if (!navigator.locks) return refused(new Error('This browser has no Web Locks.'));
    navigator.locks
      .request(LOCK(SESSION), () => {
        granted();
        return new Promise<never>(() => {});
      })
      .catch(refused);
  });
  return held;
}

export async function makeOutput(name: string, chunks: Uint8Array[]): Promise<{ file: Blob; kind: OutputKind }> {
  try {
    await holdLock();
    const dir = await (await outputRoot()).getDirectoryHandle(SESSION, { create: true });
    await removeAll(dir);
    const handle = await dir.getFileHandle(name.replace(/[^\w.-]/g, '_') || 'output.caffemodel', { create: true });
    const access = await handle.createSyncAccessHandle();
    try {
      let at = 0;
      for (const c of chunks) {
        const n = access.write(c, { at });
        if (n !== c.byteLength) throw new Error(`Wrote ${n} of ${c.byteLength} bytes.`);
        at += n;
      }
      access.truncate(at);
      // No flush(): the file is read back in this session; forcing it to the disk would only wait for the disk.
    } finally {
      access.close();
    }
    return { file: await handle.getFile(), kind: 'opfs' };
  } catch {
    return { file: new Blob(chunks as BlobPart[], { type: 'application/octet-stream' }), kind: 'blob' };
  }
}

/** Delete the folders of workers that are gone (no one holds their lock). Called when a worker starts. */
export async function clearStaleOutputs(): Promise<void> {
  try {
    await holdLock();
    const root = await outputRoot();
    const live = new Set(((await navigator.locks.query()).held ?? []).map((l) => l.name));
    for (const name of await keys(root))
      if (!live.has(LOCK(name))) await root.removeEntry(name, { recursive: true }).catch(() => undefined);
  } catch {
    /* no OPFS or no locks: nothing to clear */
  }
}

async function outputRoot(): Promise<FileSystemDirectoryHandle> {
  if (!navigator.storage?.getDirectory) throw new Error('This browser has no origin private file system (OPFS).');
  return (await navigator.storage.getDirectory()).getDirectoryHandle(DIR, { create: true });
}

async function keys(dir: FileSystemDirectoryHandle): Promise<string[]> {
  const names: string[] = [];
  for await (const key of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(key);
  return names;
}

async function removeAll(dir: FileSystemDirectoryHandle): Promise<void> {
  for (const n of await keys(dir)) await dir.removeEntry(n).catch(() => undefined);
}
