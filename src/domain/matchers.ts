/**
 * Label matchers in Alertmanager's syntax: `name="value"`, `name!=value`,
 * `name=~"regex"`, `name!~regex`. Regexes are anchored, as in Alertmanager, so
 * `service=~"pay.*"` matches "payments" but not "prepay".
 */
export type Labels = Record<string, string>;

export interface Matcher {
  name: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(.*?))\s*$/;

/** Parses one matcher, or returns an error message naming what is wrong. */
export function parseMatcher(text: string): Matcher | string {
  const match = MATCHER.exec(text);
  if (!match) return `"${text}" is not a matcher (expected name="value", name!="value", name=~"regex" or name!~"regex")`;
  const value = match[3] !== undefined ? match[3].replace(/\\(.)/g, '$1') : (match[4] ?? '');
  const op = match[2] as Matcher['op'];
  if (op === '=~' || op === '!~') {
    try {
      new RegExp(`^(?:${value})$`);
    } catch {
      return `"${text}" has an invalid regular expression`;
    }
  }
  return { name: match[1]!, op, value };
}

const compiled = new Map<string, RegExp>();
function anchored(pattern: string): RegExp {
  let regex = compiled.get(pattern);
  if (!regex) {
    regex = new RegExp(`^(?:${pattern})$`);
    compiled.set(pattern, regex);
  }
  return regex;
}

/** A missing label counts as the empty string, as in Alertmanager. */
export function matches(matcher: Matcher, labels: Labels): boolean {
  const value = labels[matcher.name] ?? '';
  switch (matcher.op) {
    case '=':
      return value === matcher.value;
    case '!=':
      return value !== matcher.value;
    case '=~':
      return anchored(matcher.value).test(value);
    case '!~':
      return !anchored(matcher.value).test(value);
  }
}

/** Every matcher holds (an empty list matches everything). */
export function matchesAll(matchers: readonly Matcher[], labels: Labels): boolean {
  return matchers.every((matcher) => matches(matcher, labels));
}
