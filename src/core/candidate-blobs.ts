/**
 * The blobs of one repository's candidates, held from the scan until each candidate's outcome is
 * known (then they are released or kept in the space ledger, core/space.ts). Each distinct blob
 * key is stored once, and each candidate holds the indexes of its keys in the narrowest width
 * that fits: re-pushes of a tag share most of their layers, so a repository's candidates
 * reference far fewer distinct blobs than they list (1 to 4 bytes a reference instead of 8).
 * All of it sits in one buffer; the typed views are made only when the keys are read.
 */
import type { Digest } from "./digest.js";
import { blobKey } from "./space.js";
import { distinctInPlace, indexOf } from "./sorted-keys.js";

type RefWidth = 1 | 2 | 4;

/**
 * Layout of `packed`: the distinct keys (Float64, sorted), then `candidates + 1` offsets (Uint32:
 * candidate i's references are refs[offsets[i]] .. refs[offsets[i + 1] - 1]), then the references.
 */
interface Views {
  keys: Float64Array;
  offsets: Uint32Array;
  refs: Uint8Array | Uint16Array | Uint32Array;
}

export class CandidateBlobs {
  private constructor(
    private readonly packed: ArrayBuffer,
    private readonly keyCount: number,
    /** How many candidates it holds. */
    readonly candidates: number,
    private readonly refWidth: RefWidth,
  ) {}

  /** From each candidate's blob list (see Candidate.blobs), in candidate order. */
  static from(blobLists: ReadonlyArray<readonly Digest[]>): CandidateBlobs {
    const listed = new Float64Array(blobLists.reduce((n, blobs) => n + blobs.length, 0));
    let at = 0;
    for (const blobs of blobLists) for (const blob of blobs) listed[at++] = blobKey(blob);
    const distinct = distinctInPlace(listed.slice());
    const refWidth: RefWidth = distinct.length <= 2 ** 8 ? 1 : distinct.length <= 2 ** 16 ? 2 : 4;
    const packed = new ArrayBuffer(8 * distinct.length + 4 * (blobLists.length + 1) + refWidth * listed.length);
    const blobs = new CandidateBlobs(packed, distinct.length, blobLists.length, refWidth);
    const { keys, offsets, refs } = blobs.views(listed.length);
    keys.set(distinct);
    blobLists.forEach((list, i) => (offsets[i + 1] = offsets[i]! + list.length));
    listed.forEach((key, j) => (refs[j] = indexOf(keys, key)));
    return blobs;
  }

  /** The distinct keys referenced by the candidates `chosen` says yes to, sorted. */
  keysOf(chosen: (candidate: number) => boolean): Float64Array {
    const { keys, offsets, refs } = this.views();
    const used = new Uint8Array(keys.length);
    for (let i = 0; i < this.candidates; i++) {
      if (!chosen(i)) continue;
      for (let j = offsets[i]!; j < offsets[i + 1]!; j++) used[refs[j]!] = 1;
    }
    // Counted and filled by hand: TypedArray filter collects its values in a heap array first.
    let count = 0;
    for (let k = 0; k < used.length; k++) count += used[k]!;
    const chosenKeys = new Float64Array(count);
    for (let k = 0, at = 0; k < used.length; k++) if (used[k] === 1) chosenKeys[at++] = keys[k]!;
    return chosenKeys;
  }

  private views(refCount?: number): Views {
    const keys = new Float64Array(this.packed, 0, this.keyCount);
    const offsets = new Uint32Array(this.packed, keys.byteLength, this.candidates + 1);
    const start = keys.byteLength + offsets.byteLength;
    const count = refCount ?? offsets[this.candidates]!;
    const refs = this.refWidth === 1 ? new Uint8Array(this.packed, start, count)
      : this.refWidth === 2 ? new Uint16Array(this.packed, start, count) : new Uint32Array(this.packed, start, count);
    return { keys, offsets, refs };
  }
}
