/**
 * A repository's candidates, packed while they wait for their turn. A run over a million
 * manifests holds every candidate from the end of the scan until its repository is done; as
 * objects with a digest string each they cost ~130 bytes apiece (about 120 MB on such a registry),
 * packed they cost 33: the raw sha256 bytes and the index of a shared media type string.
 */
import { type Digest, digestAlgorithm, digestHex } from "../core/digest.js";
import type { Candidate } from "../core/types.js";

/** What deleting a candidate needs. */
export type WorkCandidate = Pick<Candidate, "digest" | "mediaType">;

const SHA256_BYTES = 32;
const SHA256_PREFIX = "sha256:";

export class CandidateList implements Iterable<WorkCandidate> {
  static readonly empty = new CandidateList(0, new Uint8Array(0), new Uint8Array(0), [], undefined);

  private constructor(
    readonly length: number,
    private readonly hashes: Uint8Array,
    private readonly typeIndexes: Uint8Array,
    private readonly types: string[],
    /** Used instead when a digest is not sha256 (sha512 is legal, and rare). */
    private readonly plain: WorkCandidate[] | undefined,
  ) {}

  static from(candidates: readonly WorkCandidate[]): CandidateList {
    const types: string[] = [];
    const packable = candidates.every((c) => digestAlgorithm(c.digest) === "sha256") &&
      new Set(candidates.map((c) => c.mediaType)).size <= 256;
    if (!packable) return new CandidateList(candidates.length, new Uint8Array(0), new Uint8Array(0), types, candidates.map(({ digest, mediaType }) => ({ digest, mediaType })));
    const hashes = new Uint8Array(candidates.length * SHA256_BYTES);
    const typeIndexes = new Uint8Array(candidates.length);
    candidates.forEach((candidate, i) => {
      hashes.set(Buffer.from(digestHex(candidate.digest), "hex"), i * SHA256_BYTES);
      let type = types.indexOf(candidate.mediaType);
      if (type < 0) type = types.push(candidate.mediaType) - 1;
      typeIndexes[i] = type;
    });
    return new CandidateList(candidates.length, hashes, typeIndexes, types, undefined);
  }

  /** The i-th candidate, unpacked. */
  at(i: number): WorkCandidate {
    if (this.plain) return this.plain[i]!;
    const start = i * SHA256_BYTES;
    const hex = Buffer.from(this.hashes.buffer, this.hashes.byteOffset + start, SHA256_BYTES).toString("hex");
    return { digest: `${SHA256_PREFIX}${hex}` as Digest, mediaType: this.types[this.typeIndexes[i]!]! };
  }

  toArray(): WorkCandidate[] {
    return Array.from({ length: this.length }, (_, i) => this.at(i));
  }

  *[Symbol.iterator](): Iterator<WorkCandidate> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }
}
