/**
 * What the filter engine finds in log lines.
 *
 * @module
 */

/** A date found in a line by the date detector. */
export interface DateMatch {
  /** Epoch seconds (fractional). */
  time: number;
  /** Offset of the matched date text in the line. */
  start: number;
  /** Offset just past the matched date text. */
  end: number;
  /** Name of the template that matched, for statistics (`{^LN-BEG}Month Day Hour:Minute:Second`). */
  template: string;
}

/** One failure found by a failregex. */
export interface FailureMatch {
  /** Failure id: the host text, or the `<F-ID>` value. */
  fid: string;
  /** Raw host text from `<HOST>`/`<ADDR>`/`<IP4>`/`<IP6>`/`<DNS>`/`<CIDR>`, or null when only an id was captured. */
  host: string | null;
  /** The line's time in epoch seconds. */
  time: number;
  /** The matched log line(s), as fail2ban keeps them in ticket matches. */
  lines: string[];
  /**
   * Values of `<F-…>` groups by lower-case name without the prefix
   * (`user`, `alt_user`, `mlfid`, `content` excluded), for tags and failJSON.
   */
  data: Record<string, string>;
  /** Users seen on a multi-line failure id (`<F-MLFID>` tickets with `<F-USER>`), when any. */
  users?: string[];
  /** Index of the failregex that matched. */
  regexIndex: number;
  /**
   * False when the host text came from an address group (`<IP4>`, `<IP6>`, the
   * address part of `<HOST>`): only a host name group's text may need a DNS lookup.
   */
  hostFromName?: boolean;
}

/** The outcome of one log line through a filter. */
export interface LineResult {
  /** The line's time (epoch seconds), or null when no date was found. */
  time: number | null;
  /** The date template that matched, or null. */
  dateTemplate: string | null;
  /** Failures found (usually zero or one). */
  failures: FailureMatch[];
  /** True when an ignoreregex matched. */
  ignored: boolean;
  /** Indexes of failregexes that matched, including `<F-NOFAIL>` ones. */
  matchedRegexes: number[];
}

/** A regex that ran into the backtrack limit on a line (see `Filter.regexesGivenUp`). */
export interface GaveUpRegex {
  /** The option the regex comes from. */
  kind: "prefregex" | "failregex" | "ignoreregex";
  /** Index among the filter's regexes of that kind (0 for the prefregex). */
  index: number;
  /** Where the regex comes from: filter file and option. */
  origin: string;
}
