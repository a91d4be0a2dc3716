/** Tag names as the distribution spec allows them: `[\w][\w.-]{0,127}`. */

const TAG_NAME = /^[\w][\w.-]{0,127}$/;

/** True when `text` is a tag name a registry accepts (and so one safe to put in a URL path). */
export function isTagName(text: string): boolean {
  return TAG_NAME.test(text);
}
