/**
 * The key pair GitLab signs registry tokens with, and the certificate the registry trusts
 * (`auth.token.rootcertbundle`). Node cannot create X.509 certificates, so the openssl CLI does.
 */
import { execFile } from "node:child_process";
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
const OPENSSL = "/usr/bin/openssl";

/** A signing key and its self-signed certificate, written to a directory. */
export interface Pki {
  /** PKCS#8 PEM of the RSA-2048 private key. */
  keyPem: string;
  keyPath: string;
  /** PEM certificate file to name in the registry's `rootcertbundle`. */
  certPath: string;
  /** The libtrust key id of the public key: the JWT header `kid` the registry requires. */
  keyId: string;
}

/**
 * Generates an RSA-2048 key and a self-signed certificate valid for two days into `dir`
 * (which must exist). Async: tests run a server in this process that must keep answering.
 */
export async function createPki(dir: string): Promise<Pki> {
  const keyPath = join(dir, "token-signing.key");
  const certPath = join(dir, "token-signing.crt");
  try {
    await execFileAsync(OPENSSL, [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
      "-subj", "/CN=gitlab-standin-token-signing",
      "-keyout", keyPath, "-out", certPath,
    ]);
  } catch (error) {
    throw new Error(`openssl could not create the token signing certificate in ${dir}: ${describe(error)}`, {
      cause: error,
    });
  }
  const keyPem = await readFile(keyPath, "utf8");
  return { keyPem, keyPath, certPath, keyId: libtrustKeyId(createPublicKey(keyPem)) };
}

/**
 * The key id docker/libtrust derives from a public key, which the registry compares with the
 * JWT `kid`: SHA-256 of the DER SubjectPublicKeyInfo, first 30 bytes (240 bits, so base32 needs
 * no padding), base32 in 12 groups of 4 joined by `:`.
 */
export function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: "spki", format: "der" });
  const encoded = base32(createHash("sha256").update(der).digest().subarray(0, 30));
  return encoded.match(/.{4}/g)!.join(":");
}

const BASE32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 without padding. */
function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of bytes) {
    // Only the bits not yet emitted matter (fewer than 13): masking keeps the shift in range.
    value = ((value << 8) | byte) & 0x1fff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

function describe(error: unknown): string {
  const stderr = (error as { stderr?: unknown }).stderr;
  if (typeof stderr === "string" && stderr.trim() !== "") return stderr.trim();
  return error instanceof Error ? error.message : String(error);
}
