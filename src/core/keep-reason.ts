/** Plain English for the reason a manifest is kept, for the report and for plan messages. */
import { shortDigest } from "./digest.js";
import { formatDuration } from "./duration.js";
import type { KeepReason } from "./types.js";

/**
 * A short phrase saying why a manifest is kept, e.g. `tagged latest, v1`,
 * `referenced by index sha256:0123456789ab`, `pushed 3h 12m ago, younger than the grace period`.
 */
export function describeKeepReason(reason: KeepReason): string {
  switch (reason.kind) {
    case "tagged":
      return `tagged ${reason.tags.join(", ")}`;
    case "index-child":
      return `referenced by index ${shortDigest(reason.parent)}`;
    case "referrer":
      return `referrer of ${shortDigest(reason.subject)}`;
    case "too-young":
      return `pushed ${formatDuration(reason.ageMs)} ago, younger than the grace period`;
    case "unreadable":
      return `manifest unreadable: ${reason.problem}`;
    case "repository-unsafe":
      return `repository not safe to judge: ${reason.problem}`;
  }
}
