/**
 * The typed, validated result of reading a fail2ban configuration directory.
 * Produced by the config reader (src/config/), consumed by the filter engine,
 * the jail workers, the ban manager and the action executor. These are plain
 * data (structured-clone safe) so a spec can be posted to a worker as is.
 *
 * @module
 */

/** One regex option value with where it came from, for error messages. */
export interface RegexSource {
  /** The Python-flavoured pattern, `%(x)s` and `<option>` references resolved, fail2ban tags (`<HOST>`, `<F-USER>`…) still in place. */
  pattern: string;
  /** Where it was written, e.g. `/etc/fail2ban/filter.d/sshd.conf [Definition] failregex line 3`. */
  origin: string;
}

/** A filter (filter.d/NAME.conf with its .local and options) ready to compile. */
export interface FilterSpec {
  /** Filter name as referenced by the jail, without options: `sshd`. */
  name: string;
  /** The main filter file, or null for a filter given as a raw regex. */
  file: string | null;
  /** `prefregex`, or null when the filter has none. */
  prefregex: RegexSource | null;
  /** `failregex` lines (blank lines dropped). */
  failregex: RegexSource[];
  /** `ignoreregex` lines (blank lines dropped). */
  ignoreregex: RegexSource[];
  /** `datepattern`, or null for automatic detection. */
  datepattern: string | null;
  /** `maxlines`: lines buffered for multi-line regexes. @default 1 */
  maxlines: number;
  /** `journalmatch` for the systemd backend, or null. */
  journalmatch: string | null;
  /** `logtimezone` (`UTC`, `+0200`, …) or null for the local zone. */
  logtimezone: string | null;
  /** Every resolved option of the filter ([Definition] merged with [Init] and the reference's arguments). */
  options: Record<string, string>;
  /**
   * The filter's combined options in the order and types fail2ban-client streams them to the
   * server (`maxlines` as a number, the rest as text), for `client -d`. Set by the config reader.
   */
  streamOptions?: Array<[string, StreamValue]>;
}

/** A value as fail2ban-client sends it: Python's str, int, bool or None. */
export type StreamValue = string | number | boolean | null;

/** A Python action (`action.d/NAME.py`) a jail refers to; f2b cannot run it but reports it. */
export interface PythonActionRef {
  /** Instance name: the `actname` argument, else the file name without `.py`. */
  name: string;
  /** `CONFDIR/action.d/NAME.py`. */
  file: string;
  /** The reference's arguments except `actname`, in the order written. */
  options: Record<string, string>;
  /** How many `.conf` actions of the jail come before it. */
  position: number;
}

/** An action (action.d/NAME.conf with its .local and the jail's arguments). */
export interface ActionSpec {
  /** Action instance name: the `actname` argument, else the file name (`iptables-multiport`). */
  name: string;
  /** The action file name without extension (`iptables-multiport`). */
  kind: string;
  /** The main action file, for error messages. */
  file: string | null;
  /** [Definition] commands (`actionstart`, `actionstop`, `actioncheck`, `actionban`, `actionunban`, `actionflush`, `actionreban`, …), `%()` resolved, `<tags>` still in place. */
  commands: Record<string, string>;
  /** Properties for tag substitution: [Definition] non-command keys, [Init], then the reference's arguments (later wins). */
  properties: Record<string, string>;
  /** Overrides per address family from `[Init?family=inet6]` and similar: `{ inet6: { blocktype: … } }`. */
  familyProperties: Record<string, Record<string, string>>;
  /** Seconds after which a command's whole process group is killed. @default 60 */
  timeout: number;
  /**
   * `[property, value]` pairs in the order and types fail2ban-client streams them
   * (`multi-set JAIL action NAME …`): commands, booleans, then init options unresolved. Set by
   * the config reader, for `client -d`.
   */
  streamOptions?: Array<[string, StreamValue]>;
}

/** bantime.* options of a jail. */
export interface BanTimeIncrement {
  /** `bantime.increment` @default false */
  enabled: boolean;
  /** `bantime.factor` @default 1 */
  factor: number;
  /** `bantime.formula` (a Python expression over ban.Time, ban.Count, banFactor, …) or null. */
  formula: string | null;
  /** `bantime.multipliers` (space-separated integers), empty when unset. */
  multipliers: number[];
  /** `bantime.maxtime` in seconds, or null for no cap. */
  maxtime: number | null;
  /** `bantime.rndtime` in seconds, or null. */
  rndtime: number | null;
  /** `bantime.overalljails` @default false */
  overalljails: boolean;
}

/** One jail (a section of jail.conf / jail.local / jail.d). */
export interface JailSpec {
  /** Section name: `sshd`. */
  name: string;
  /** `enabled`: only enabled jails are started. @default false */
  enabled: boolean;
  /** `backend`: `auto`, `polling`, `pyinotify`, `systemd`, … @default "auto" */
  backend: string;
  /** `logpath` entries as written (may contain globs), `tail`/`head` suffix stripped. */
  logpath: string[];
  /** Per `logpath` entry: true when it ends in ` tail` (start reading at the end). Same length as `logpath`. */
  logpathTail?: boolean[];
  /** `logencoding` @default "auto" */
  logencoding: string;
  /** The jail's filter, read from `filter.d/` with the jail's arguments. */
  filter: FilterSpec;
  /** The jail's actions in `action` order, read from `action.d/`. */
  actions: ActionSpec[];
  /** `maxretry` @default 5 */
  maxretry: number;
  /** `findtime` in seconds @default 600 */
  findtime: number;
  /** `bantime` in seconds; negative means permanent. @default 600 */
  bantime: number;
  /** `maxmatches`: matched lines kept per ticket. @default maxretry */
  maxmatches: number;
  /** `ignoreip` entries: addresses, CIDR networks, host names. */
  ignoreip: string[];
  /** `ignoreself` @default true */
  ignoreself: boolean;
  /** `ignorecommand` or null. */
  ignorecommand: string | null;
  /** `ignorecache` as written, or null. */
  ignorecache: string | null;
  /** `usedns`: `yes`, `warn`, `no`, `raw`. @default "warn" */
  usedns: string;
  /** The `bantime.*` options: growing ban times for repeat offenders. */
  bantimeIncrement: BanTimeIncrement;
  /** Every resolved option of the jail section, for `get` commands and tags. */
  options: Record<string, string>;
  /** Non-fatal configuration problems (unsupported Python action, ignored bad value…), for the log. */
  warnings?: string[];
  /**
   * The jail section's options as fail2ban-client reads them (its option list, in that order,
   * values as written; ints, booleans, and null for a bad int), for `client -d`.
   */
  streamOptions?: Array<[string, StreamValue]>;
  /** Python actions the jail refers to (not run; listed by `client -d`). */
  pythonActions?: PythonActionRef[];
}

/** fail2ban.conf [Definition] (and its .local), server settings. */
export interface ServerSpec {
  /** `loglevel`: least severe level logged. @default "INFO" */
  loglevel: string;
  /** `STDOUT`, `STDERR`, `SYSLOG`, `SYSOUT`, `SYSTEMD-JOURNAL` or a file path. @default "/var/log/fail2ban.log" */
  logtarget: string;
  /** `syslogsocket`: the syslog socket path, or `auto`. @default "auto" */
  syslogsocket: string;
  /** `socket`: the control socket path. @default "/var/run/fail2ban/fail2ban.sock" */
  socket: string;
  /** `pidfile`: where the server writes its process id. @default "/var/run/fail2ban/fail2ban.pid" */
  pidfile: string;
  /** SQLite file, or `:memory:`, or `None` for no database. @default "/var/lib/fail2ban/fail2ban.sqlite3" */
  dbfile: string;
  /** Seconds of ban history kept. @default 86400 */
  dbpurgeage: number;
  /** `dbmaxmatches`: matched lines stored per ban. @default 10 */
  dbmaxmatches: number;
  /** `allowipv6`: `auto`, `yes` or `no`. @default "auto" */
  allowipv6: string;
  /** Where f2b would differ from fail2ban with these settings (ignored options…), for the log. */
  warnings?: string[];
}
