/**
 * Content digests as the distribution registry writes them: `<algorithm>:<hex>`.
 * Parsed once, where they are read (link files, manifests, flags), and trusted afterwards.
 */

/** A validated digest such as `sha256:0123…` (64 lowercase hex characters for sha256). */
export type Digest = string & { readonly __brand: "Digest" };

// `test`, not `exec`: a scan checks every digest every manifest lists, and exec's match arrays
// were ~7 % of all it allocated.
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const SHA512 = /^sha512:[a-f0-9]{128}$/;

/** Returns the digest, or undefined when `text` is not exactly a supported digest. */
export function parseDigest(text: string): Digest | undefined {
  return SHA256.test(text) || SHA512.test(text) ? (text as Digest) : undefined;
}

/** Builds a digest from the algorithm and hex found in a directory layout, or undefined if invalid. */
export function digestFromParts(algorithm: string, hex: string): Digest | undefined {
  return parseDigest(`${algorithm}:${hex}`);
}

/** The algorithm part, e.g. `sha256`. */
export function digestAlgorithm(digest: Digest): string {
  return digest.slice(0, digest.indexOf(":"));
}

/** The hex part, without the algorithm. */
export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(":") + 1);
}

/** A short form for people, e.g. `sha256:0123456789ab`. */
export function shortDigest(digest: Digest): string {
  return digest.slice(0, digest.indexOf(":") + 13);
}
