/**
 * Where an S3 registry keeps its storage and how to reach it: what the registry config's
 * `storage.s3` section (or `--storage s3://…` with `--s3-endpoint`/`--s3-region`) says.
 * Plain data; the driver (s3-driver.ts) turns it into requests.
 */
export interface S3Settings {
  bucket: string;
  /**
   * The key prefix every registry key lives under, normalised: no leading `/`, and either empty
   * (the bucket's top) or ending in `/`, e.g. `registry/` for `rootdirectory: /registry`.
   * Distribution builds keys as `trimLeft(trimRight(rootdirectory, "/") + "/docker/...", "/")`.
   */
  rootDirectory: string;
  region: string;
  /**
   * `regionendpoint`: an S3-compatible server's URL (or host). In distribution 2.8 it implies
   * path-style addressing (`<endpoint>/<bucket>/<key>`). Absent: AWS, virtual-hosted style
   * (`https://<bucket>.s3.<region>.amazonaws.com/<key>`).
   */
  endpoint?: string;
  /** `secure` (default true): https. False: plain http. */
  secure: boolean;
  /** `skipverify`: do not verify the server's TLS certificate. */
  skipVerify: boolean;
  /** `accesskey`/`secretkey` from the config; absent: the standard AWS credential chain. */
  accessKey?: string;
  secretKey?: string;
  /** `sessiontoken`, when the config gives one with the keys. */
  sessionToken?: string;
}
