/** File-name helpers. Pure. */

/** Last path segment (both separators). */
export function fileBase(name: string): string {
  const i = Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\'));
  return i >= 0 ? name.slice(i + 1) : name;
}

/** Name without its last extension: "net.deploy.prototxt" → "net.deploy"; ".hidden" stays. */
export function stripExtension(name: string): string {
  const base = fileBase(name);
  const i = base.lastIndexOf('.');
  return i > 0 ? base.slice(0, i) : base;
}

/** Zip archive name for a pair of outputs: "<base>_inference.zip" from "<base>_inference.prototxt". */
export function zipName(prototxtOutputName: string): string {
  return `${stripExtension(prototxtOutputName)}.zip`;
}

/** A guess from the name alone, for messages before the content is read. */
export function extensionOf(name: string): string {
  const base = fileBase(name);
  const i = base.lastIndexOf('.');
  return i > 0 ? base.slice(i + 1).toLowerCase() : '';
}

/** The largest file caffe-fold reads: one ArrayBuffer in a browser, and Caffe's own 2 GB protobuf limit. */
export const MAX_FILE_BYTES = 2 ** 31 - 1;
