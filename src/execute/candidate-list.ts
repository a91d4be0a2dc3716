/**
 * A repository's candidates, packed while they wait for their turn. A run over a million
 * manifests holds every candidate from the end of the scan until its repository is done; as
 * objects with a digest string each they cost ~130 bytes apiece (about 120 MB on such a registry),
 * packed they cost 33 in one buffer per repository: the raw sha256 bytes and the index of a
 * shared media type string. (One buffer, not one per field: each typed array is ~150 bytes of
 * heap, which over ten thousand repositories is megabytes the garbage collector keeps growing from.)
 */
import { type Digest, digestAlgorithm, digestHex } from "../core/digest.js";
import type { Candidate } from "../core/types.js";

/** What deleting a candidate needs. */
export type WorkCandidate = Pick<Candidate, "digest" | "mediaType">;

const SHA256_BYTES = 32;
/** The hash, then the media type's index in `types`. */
const ENTRY_BYTES = SHA256_BYTES + 1;
const SHA256_PREFIX = "sha256:";

export class CandidateList implements Iterable<WorkCandidate> {
  static readonly empty = new CandidateList(0, new ArrayBuffer(0), [], undefined);

  private constructor(
    readonly length: number,
    private readonly packed: ArrayBuffer,
    private readonly types: readonly string[],
    /** Used instead when a digest is not sha256 (sha512 is legal, and rare). */
    private readonly plain: WorkCandidate[] | undefined,
  ) {}

  static from(candidates: readonly WorkCandidate[]): CandidateList {
    const types: string[] = [];
    const packable = candidates.every((c) => digestAlgorithm(c.digest) === "sha256") &&
      new Set(candidates.map((c) => c.mediaType)).size <= 256;
    if (!packable) return new CandidateList(candidates.length, new ArrayBuffer(0), types, candidates.map(({ digest, mediaType }) => ({ digest, mediaType })));
    const packed = new ArrayBuffer(candidates.length * ENTRY_BYTES);
    candidates.forEach((candidate, i) => {
      const entry = Buffer.from(packed, i * ENTRY_BYTES, ENTRY_BYTES);
      entry.write(digestHex(candidate.digest), 0, SHA256_BYTES, "hex");
      let type = types.indexOf(candidate.mediaType);
      if (type < 0) type = types.push(candidate.mediaType) - 1;
      entry[SHA256_BYTES] = type;
    });
    return new CandidateList(candidates.length, packed, types, undefined);
  }

  /** The i-th candidate, unpacked. */
  at(i: number): WorkCandidate {
    if (this.plain) return this.plain[i]!;
    const entry = Buffer.from(this.packed, i * ENTRY_BYTES, ENTRY_BYTES);
    return { digest: `${SHA256_PREFIX}${entry.toString("hex", 0, SHA256_BYTES)}` as Digest, mediaType: this.types[entry[SHA256_BYTES]!]! };
  }

  toArray(): WorkCandidate[] {
    return Array.from({ length: this.length }, (_, i) => this.at(i));
  }

  *[Symbol.iterator](): Iterator<WorkCandidate> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }
}
