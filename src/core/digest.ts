/**
 * Content digests as the distribution registry writes them: `<algorithm>:<hex>`.
 * Parsed once, where they are read (link files, manifests, flags), and trusted afterwards.
 */

/** A validated digest such as `sha256:0123…` (64 lowercase hex characters for sha256). */
export type Digest = string & { readonly __brand: "Digest" };

/**
 * The value of each character a digest's hex may hold (lowercase, as the registry writes it), by
 * character code; 16 for every other ASCII character, and no entry past ASCII.
 */
export const HEX_VALUE = new Uint8Array(128).fill(16);
for (let i = 0; i < 16; i++) HEX_VALUE["0123456789abcdef".charCodeAt(i)] = i;

/**
 * Returns the digest, or undefined when `text` is not exactly a supported digest: `sha256:` and
 * 64 hex characters, or `sha512:` and 128. By hand, not a regular expression: a scan checks every
 * digest every manifest lists (~570,000 on 100,000 manifests), and `/^sha256:[a-f0-9]{64}$/.test`
 * took ~245 ns each here, this loop ~105 ns; exec's match arrays had been ~7 % of all a scan allocated.
 */
export function parseDigest(text: string): Digest | undefined {
  const hexLength = text.length === 71 ? 64 : text.length === 135 ? 128 : 0;
  if (hexLength === 0 || !text.startsWith(hexLength === 64 ? "sha256:" : "sha512:")) return undefined;
  for (let i = 7; i < text.length; i++) if (!(HEX_VALUE[text.charCodeAt(i)]! < 16)) return undefined;
  return text as Digest;
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
