/**
 * Self-signed server certificates for 127.0.0.1 (subjectAltName IP:127.0.0.1), made with the
 * openssl CLI like pki.ts: the TLS tests serve the registry and GitLab over HTTPS with them.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export interface TlsCertificate {
  certPath: string;
  keyPath: string;
  /** The certificate (which is its own CA), PEM. */
  cert: string;
  key: string;
}

/** Writes `<name>.crt` and `<name>.key` (P-256, valid two days) into `dir`, which must exist. */
export async function createServerCertificate(dir: string, name: string): Promise<TlsCertificate> {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  await execFileAsync("/usr/bin/openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-sha256", "-days", "2",
    "-subj", `/CN=${name} test certificate`, "-addext", "subjectAltName=IP:127.0.0.1",
    "-keyout", keyPath, "-out", certPath,
  ]);
  return { certPath, keyPath, cert: await readFile(certPath, "utf8"), key: await readFile(keyPath, "utf8") };
}
