/**
 * fail2ban's strptime dialect: the `%` directives a date pattern may use, the
 * regular expressions they stand for, the zone offsets fail2ban knows, and the
 * conversion of matched fields into epoch seconds (year-less dates, zones,
 * local time as the C library's `mktime` resolves it).
 *
 * @module
 */

/** Field codes: which date part a regex group carries. */
export const Field = {
  Year4: 0,
  Year2: 1,
  Month: 2,
  MonthAbbr: 3,
  MonthName: 4,
  Day: 5,
  Hour24: 6,
  Hour12: 7,
  AmPm: 8,
  Minute: 9,
  Second: 10,
  Fraction: 11,
  WeekdayAbbr: 12,
  WeekdayName: 13,
  WeekdayNum: 14,
  YearDay: 15,
  WeekSun: 16,
  WeekMon: 17,
  ZoneOffset: 18,
  ZoneName: 19,
  Ignored: 20,
} as const;
/** A field code. */
export type Field = typeof Field[keyof typeof Field];

/** One strptime directive: its regex (groups named by field letter) and its display name. */
export interface TimeDirective {
  /** Python-flavoured regex with `(?P<x>…)` groups, as fail2ban writes it. */
  regex: string;
  /** Name used in template names (`%b` is `MON`). */
  name: string;
}

const MONTHS_ABBR = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec";
const MONTHS_FULL =
  "september|february|november|december|january|october|august|march|april|june|july|may";
const DAYS_ABBR = "mon|tue|wed|thu|fri|sat|sun";
const DAYS_FULL = "wednesday|thursday|saturday|tuesday|monday|friday|sunday";
const ZONE_ABBR = "[A-Z](?:[A-Z]{2,4})?";

/**
 * The century and decade part of `%ExY` for years `from`..`to`: fail2ban
 * accepts years from 2000 up to three years ahead of the current one.
 */
function yearPrefixRegex(from: number, to: number): string {
  const byCentury = new Map<string, string[]>();
  for (let d = Math.floor(from / 10); d <= Math.floor(to / 10); d++) {
    const s = String(d);
    const c = s.slice(0, 2);
    const list = byCentury.get(c) ?? [];
    list.push(s.slice(2));
    byCentury.set(c, list);
  }
  const parts = [...byCentury].map(([c, ds]) =>
    ds.length === 1 ? c + ds[0] : `${c}[${ds.join("")}]`
  );
  return parts.length === 1 ? parts[0]! : `(?:${parts.join("|")})`;
}

/** Year the `%ExY` range is built around (configuration time, not per line). */
const BUILD_YEAR = new Date().getFullYear();

/** Every directive fail2ban 1.0.2 accepts, keyed by the text after `%`. */
export const TIME_DIRECTIVES: Readonly<Record<string, TimeDirective>> = {
  "%": { regex: "%", name: "%" },
  a: { regex: `(?P<a>${DAYS_ABBR})`, name: "DAY" },
  A: { regex: `(?P<A>${DAYS_FULL})`, name: "DAYNAME" },
  b: { regex: `(?P<b>${MONTHS_ABBR})`, name: "MON" },
  B: { regex: `(?P<B>${MONTHS_FULL})`, name: "MONTH" },
  c: {
    regex:
      `(?P<a>${DAYS_ABBR})\\s+(?P<b>${MONTHS_ABBR})\\s+(?P<d>3[0-1]|[1-2]\\d|0[1-9]|[1-9]| [1-9])\\s+(?P<H>2[0-3]|[0-1]\\d|\\d):(?P<M>[0-5]\\d|\\d):(?P<S>6[0-1]|[0-5]\\d|\\d)\\s+(?P<Y>\\d\\d\\d\\d)`,
    name: "%c",
  },
  d: { regex: "(?P<d>[1-2]\\d|[0 ]?[1-9]|3[0-1])", name: "Day" },
  f: { regex: "(?P<f>[0-9]{1,6})", name: "Microseconds" },
  G: { regex: "(?P<G>\\d\\d\\d\\d)", name: "%G" },
  H: { regex: "(?P<H>[0-1]?\\d|2[0-3])", name: "24hour" },
  I: { regex: "(?P<I>1[0-2]|0[1-9]|[1-9])", name: "12hour" },
  j: {
    regex: "(?P<j>36[0-6]|3[0-5]\\d|[1-2]\\d\\d|0[1-9]\\d|00[1-9]|[1-9]\\d|0[1-9]|[1-9])",
    name: "Yearday",
  },
  k: { regex: " ?(?P<H>[0-2]?\\d)", name: "%k" },
  l: { regex: " ?(?P<I>1?\\d)", name: "%l" },
  m: { regex: "(?P<m>0?[1-9]|1[0-2])", name: "Month" },
  M: { regex: "(?P<M>[0-5]?\\d)", name: "Minute" },
  p: { regex: "(?P<p>am|pm)", name: "AMPM" },
  S: { regex: "(?P<S>[0-5]?\\d|6[0-1])", name: "Second" },
  u: { regex: "(?P<u>[1-7])", name: "%u" },
  U: { regex: "(?P<U>5[0-3]|[0-4]\\d|\\d)", name: "Yearweek" },
  V: { regex: "(?P<V>5[0-3]|0[1-9]|[1-4]\\d|\\d)", name: "%V" },
  w: { regex: "(?P<w>[0-6])", name: "Weekday" },
  W: { regex: "(?P<W>5[0-3]|[0-4]\\d|\\d)", name: "Yearweek" },
  x: {
    regex: "(?P<m>1[0-2]|0[1-9]|[1-9])/(?P<d>3[0-1]|[1-2]\\d|0[1-9]|[1-9]| [1-9])/(?P<y>\\d\\d)",
    name: "%x",
  },
  X: {
    regex: "(?P<H>2[0-3]|[0-1]\\d|\\d):(?P<M>[0-5]\\d|\\d):(?P<S>6[0-1]|[0-5]\\d|\\d)",
    name: "%X",
  },
  y: { regex: "(?P<y>\\d\\d)", name: "Year2" },
  Y: { regex: "(?P<Y>\\d{4})", name: "Year" },
  z: { regex: "(?P<z>Z|UTC|GMT|[+-][01]\\d(?::?\\d{2})?)", name: "Zone offset" },
  Z: { regex: "(?P<Z>Z|[A-Z]{3,5})", name: "Zone name" },
  ExZ: { regex: `(?P<Z>${ZONE_ABBR})`, name: "ExZone name" },
  Exz: {
    regex: `(?P<z>(?:${ZONE_ABBR})?[+-][01]\\d(?::?\\d{2})?|${ZONE_ABBR})`,
    name: "ExZone offset",
  },
  Exd: { regex: "(?P<d>[1-2]\\d|0[1-9]|3[0-1])", name: "ExDay" },
  Exm: { regex: "(?P<m>0[1-9]|1[0-2])", name: "ExMonth" },
  ExH: { regex: "(?P<H>[0-1]\\d|2[0-3])", name: "Ex24hour" },
  Exk: { regex: " ?(?P<H>[0-1]?\\d|2[0-3])", name: "%Exk" },
  Exl: { regex: " ?(?P<I>1[0-2]|\\d)", name: "Ex%l" },
  ExM: { regex: "(?P<M>[0-5]\\d)", name: "ExMinute" },
  ExS: { regex: "(?P<S>[0-5]\\d|6[0-1])", name: "ExSecond" },
  ExY: { regex: `(?P<Y>${yearPrefixRegex(2000, BUILD_YEAR + 3)}\\d)`, name: "ExYear" },
  Exy: { regex: "(?P<y>\\d{2})", name: "ExYear2" },
};

/** Finds a directive after `%`: the three-letter `Ex…` ones first, then one character. */
export const DIRECTIVE_RE = /%(Ex[ZzdmHklMSYy]|[%aAbBcdfGHIjklmMpSuUVwWxXyYzZ])/g;

/** Maps a regex group name (a directive letter) to its field. */
export const GROUP_FIELDS: Readonly<Record<string, Field>> = {
  Y: Field.Year4,
  y: Field.Year2,
  m: Field.Month,
  b: Field.MonthAbbr,
  B: Field.MonthName,
  d: Field.Day,
  H: Field.Hour24,
  I: Field.Hour12,
  p: Field.AmPm,
  M: Field.Minute,
  S: Field.Second,
  f: Field.Fraction,
  a: Field.WeekdayAbbr,
  A: Field.WeekdayName,
  w: Field.WeekdayNum,
  j: Field.YearDay,
  U: Field.WeekSun,
  W: Field.WeekMon,
  z: Field.ZoneOffset,
  Z: Field.ZoneName,
  G: Field.Ignored,
  V: Field.Ignored,
  u: Field.Ignored,
};

/** Zone abbreviations fail2ban knows, as fixed offsets in minutes (no DST switching). */
const ZONE_TABLE: ReadonlyArray<[number, string]> = [
  [-12, "Y"],
  [-11, "X NUT SST"],
  [-10, "W CKT HAST HST TAHT TKT"],
  [-9, "V AKST GAMT GIT HADT HNY"],
  [-8, "U AKDT CIST HAY HNP PST PT"],
  [-7, "T HAP HNR MST PDT"],
  [-6, "S CST EAST GALT HAR HNC MDT"],
  [-5, "R CDT COT EASST ECT EST ET HAC HNE PET"],
  [-4, "Q AST BOT CLT COST EDT FKT GYT HAE HNA PYT"],
  [-3, "P ADT ART BRT CLST FKST GFT HAA PMST PYST SRT UYT WGT"],
  [-2, "O BRST FNT PMDT UYST WGST"],
  [-1, "N AZOT CVT EGT"],
  [0, "Z EGST GMT UTC WET WT"],
  [1, "A CET DFT WAT WEDT WEST"],
  [2, "B CAT CEDT CEST EET SAST WAST"],
  [3, "C EAT EEDT EEST IDT MSK"],
  [4, "D AMT AZT GET GST KUYT MSD MUT RET SAMT SCT"],
  [5, "E AMST AQTT AZST HMT MAWT MVT PKT TFT TJT TMT UZT YEKT"],
  [6, "F ALMT BIOT BTT IOT KGT NOVT OMST YEKST"],
  [7, "G CXT DAVT HOVT ICT KRAT NOVST OMSST THA WIB"],
  [8, "H ACT AWST BDT BNT CAST HKT IRKT KRAST MYT PHT SGT ULAT WITA WST"],
  [9, "I AWDT IRKST JST KST PWT TLT WDT WIT YAKT"],
  [10, "K AEST ChST PGT VLAT YAKST YAPT"],
  [11, "L AEDT LHDT MAGT NCT PONT SBT VLAST VUT"],
  [12, "M ANAST ANAT FJT GILT MAGST MHT NZST PETST PETT TVT WFT"],
  [13, "FJST NZDT"],
  [11.5, "NFT"],
  [10.5, "ACDT LHST"],
  [9.5, "ACST"],
  [6.5, "CCT MMT"],
  [5.75, "NPT"],
  [5.5, "SLT"],
  [4.5, "AFT IRDT"],
  [3.5, "IRST"],
  [-2.5, "HAT NDT"],
  [-3.5, "HNT NST NT"],
  [-4.5, "HLV VET"],
  [-9.5, "MART MIT"],
];

const ZONE_OFFSETS: ReadonlyMap<string, number> = new Map(
  ZONE_TABLE.flatMap(([hours, names]) =>
    names.split(" ").map((n) => [n, Math.trunc(hours * 60)] as [string, number])
  ),
);

const ZONE_SPEC_RE = /^([A-Z](?:[A-Z]{2,4})?)?([+-][01]\d(?::?\d{2})?)?$/;

/**
 * Converts a zone (`UTC`, `GMT+2`, `CEST`, `+0200`, `-05:30`, `+01`) to an
 * offset in minutes east of UTC, or NaN when fail2ban would not accept it.
 * An empty string is UTC, as in fail2ban.
 */
export function zoneOffsetMinutes(zone: string): number {
  const m = ZONE_SPEC_RE.exec(zone);
  if (m === null) return NaN;
  const base = m[1] === undefined ? 0 : ZONE_OFFSETS.get(m[1]);
  if (base === undefined) return NaN;
  const off = m[2];
  if (off === undefined) return base;
  const sign = off.charCodeAt(0) === 45 ? -1 : 1;
  const hh = (off.charCodeAt(1) - 48) * 10 + off.charCodeAt(2) - 48;
  if (off.length <= 3) return base + sign * hh * 60;
  const mmAt = off.charCodeAt(3) === 58 ? 4 : 3;
  const mm = (off.charCodeAt(mmAt) - 48) * 10 + off.charCodeAt(mmAt + 1) - 48;
  return base + sign * (hh * 60 + mm);
}

/**
 * Validates a `logtimezone` value and returns its offset in minutes east of
 * UTC; null or empty means the process's local zone.
 *
 * @throws {SyntaxError} when the zone is not one fail2ban accepts.
 */
export function parseLogTimeZone(zone: string | null | undefined): number | null {
  if (zone === null || zone === undefined) return null;
  const z = zone.trim();
  if (z === "") return null;
  const off = zoneOffsetMinutes(z);
  if (Number.isNaN(off)) {
    throw new SyntaxError(
      `Unknown or unsupported time zone: "${zone}" (expected UTC, an abbreviation like CET, or an offset like +0200)`,
    );
  }
  return off;
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** Days in month `m` (1-12) of year `y`. */
export function daysInMonth(y: number, m: number): number {
  if (m === 2) return isLeap(y) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

// two cached month starts: year-less dates alternate between this year and the last
let cachedKey = 1970 * 16 + 1;
let cachedMonthStart = 0;
let cachedKey2 = 1970 * 16 + 1;
let cachedMonthStart2 = 0;

/** Days from 1970-01-01 to the proleptic Gregorian date y-m-d (m 1-12), without allocating. */
export function daysFromCivil(y: number, m: number, d: number): number {
  const key = y * 16 + m;
  if (key === cachedKey) return cachedMonthStart + d - 1;
  if (key === cachedKey2) return cachedMonthStart2 + d - 1;
  const start = computeDays(y, m, 1);
  cachedKey2 = cachedKey;
  cachedMonthStart2 = cachedMonthStart;
  cachedKey = key;
  cachedMonthStart = start;
  return start + d - 1;
}

function computeDays(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const mp = (m + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The civil date (year, month 1-12, day) of a day number from 1970-01-01. */
export function civilFromDays(days: number): [number, number, number] {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

const DAY = 86400;

/**
 * Local-time conversions for the process's time zone (TZ), with the result
 * fail2ban gets from Python's `time.mktime`: a wall time in a DST gap is read
 * with the offset before the change; a wall time that occurs twice takes the
 * offset of the previous conversion (glibc keeps it between calls), else the
 * earlier instant. Offsets are cached per day, so the common path allocates
 * nothing.
 */
export class LocalTime {
  /** Offset (seconds east) per UTC day number, NaN for days with a change of offset. */
  readonly #days = new Map<number, number>();
  #lastOffset: number | null = null;

  #lastDay = NaN;
  #lastDayOffset = 0;
  #now = NaN;
  /** Wall time of the reference "now" as naive seconds (see {@link LocalTime.setNow}). */
  nowWall = 0;
  /** Local year of "now". */
  nowYear = 0;
  /** Local month (1-12) of "now". */
  nowMonth = 0;
  /** Local day of month of "now". */
  nowDay = 0;

  /** The offset the last wall time was read with (it decides ambiguous times at a change of offset). */
  get lastOffset(): number | null {
    return this.#lastOffset;
  }

  /** Sets the reference time (epoch seconds) and its local calendar fields. */
  setNow(now: number): void {
    if (now === this.#now) return;
    this.#now = now;
    this.nowWall = now + this.offsetAt(now);
    const ymd = civilFromDays(Math.floor(this.nowWall / DAY));
    this.nowYear = ymd[0];
    this.nowMonth = ymd[1];
    this.nowDay = ymd[2];
  }

  /** Offset east of UTC in seconds at epoch second `t`. */
  offsetAt(t: number): number {
    const day = Math.floor(t / DAY);
    if (day === this.#lastDay) return this.#lastDayOffset;
    let off = this.#days.get(day);
    if (off === undefined) {
      const a = -new Date(day * DAY * 1000).getTimezoneOffset() * 60;
      const b = -new Date((day + 1) * DAY * 1000 - 1).getTimezoneOffset() * 60;
      off = a === b ? a : NaN;
      if (this.#days.size > 4096) this.#days.clear();
      this.#days.set(day, off);
    }
    if (Number.isNaN(off)) return -new Date(t * 1000).getTimezoneOffset() * 60;
    this.#lastDay = day;
    this.#lastDayOffset = off;
    return off;
  }

  #wallDay = NaN;
  #wallDayOffset = NaN;

  /** Epoch seconds of a local wall time given as naive seconds (fields read as if UTC). */
  fromWall(naive: number): number {
    const day = Math.floor(naive / DAY);
    if (day === this.#wallDay && !Number.isNaN(this.#wallDayOffset)) {
      this.#lastOffset = this.#wallDayOffset;
      return naive - this.#wallDayOffset;
    }
    const before = this.offsetAt((day - 1) * DAY);
    this.#wallDay = day;
    this.#wallDayOffset =
      before === this.offsetAt(day * DAY) && before === this.offsetAt((day + 1) * DAY) &&
        before === this.offsetAt((day + 2) * DAY - 1)
        ? before
        : NaN;
    const early = this.offsetAt(naive - DAY);
    const late = this.offsetAt(naive + DAY);
    // the offset the wall time is read with; glibc remembers it for the next call
    let used = early;
    if (early !== late) {
      const earlyOk = this.offsetAt(naive - early) === early;
      const lateOk = this.offsetAt(naive - late) === late;
      if (earlyOk && lateOk) {
        used = this.#lastOffset === late || this.#lastOffset === early
          ? this.#lastOffset
          : Math.max(early, late);
      } else if (lateOk) {
        used = late;
      }
    }
    this.#lastOffset = used;
    return naive - used;
  }
}

const MONTH_INDEX: ReadonlyMap<string, number> = new Map(
  [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
  ]
    .flatMap((name, i) => [[name, i + 1], [name.slice(0, 3), i + 1]] as [string, number][]),
);
const WEEKDAY_INDEX: ReadonlyMap<string, number> = new Map(
  ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    .flatMap((name, i) => [[name, i], [name.slice(0, 3), i]] as [string, number][]),
);

/** Month 1-12 from an English three-letter abbreviation in any case, without allocating. */
function monthFromAbbr(s: string): number {
  if (s.length !== 3) return MONTH_INDEX.get(s.toLowerCase()) ?? 0;
  return monthOfCodes(s.charCodeAt(0), s.charCodeAt(1), s.charCodeAt(2));
}

/**
 * Month 1-12 of three ASCII letters in any case, given as char codes, or 0:
 * the allocation-free month lookup shared by strptime and the syslog fast path.
 */
export function monthOfCodes(a: number, b: number, c: number): number {
  // x | 32 folds ASCII upper case only: no other code below 128 lands on a-z
  a |= 32;
  b |= 32;
  c |= 32;
  switch (a) {
    case 106: // j
      return b === 97 ? (c === 110 ? 1 : 0) : b === 117 ? (c === 110 ? 6 : c === 108 ? 7 : 0) : 0;
    case 102: // f
      return b === 101 && c === 98 ? 2 : 0;
    case 109: // m
      return b === 97 ? (c === 114 ? 3 : c === 121 ? 5 : 0) : 0;
    case 97: // a
      return b === 112 && c === 114 ? 4 : b === 117 && c === 103 ? 8 : 0;
    case 115: // s
      return b === 101 && c === 112 ? 9 : 0;
    case 111: // o
      return b === 99 && c === 116 ? 10 : 0;
    case 110: // n
      return b === 111 && c === 118 ? 11 : 0;
    case 100: // d
      return b === 101 && c === 99 ? 12 : 0;
  }
  return 0;
}

/** Integer value of a short run of ASCII digits (a leading space is skipped), or NaN. */
function digits(s: string): number {
  let v = 0;
  let i = 0;
  const n = s.length;
  while (i < n && s.charCodeAt(i) === 32) i++;
  if (i === n) return NaN;
  for (; i < n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return NaN;
    v = v * 10 + c;
  }
  return v;
}

/** Day of year (1-based, may fall outside the year) from a week number and weekday, as strptime counts them. */
function julianFromWeek(year: number, week: number, weekday: number, mondayFirst: boolean): number {
  // weekday of Jan 1 with Monday = 0
  let first = (daysFromCivil(year, 1, 1) + 3) % 7;
  if (first < 0) first += 7;
  let dow = weekday;
  if (!mondayFirst) {
    first = (first + 1) % 7;
    dow = (dow + 1) % 7;
  }
  const week0 = (7 - first) % 7;
  if (week === 0) return 1 + dow - first;
  return 1 + week0 + 7 * (week - 1) + dow;
}

/**
 * Converts the groups of one date match to epoch seconds as fail2ban does
 * (fractions are dropped, as fail2ban drops them). `values[i]` is the text of
 * the group whose field is `fields[i]`, or undefined when the group did not
 * take part. Returns NaN when the fields do not make a valid date.
 *
 * @param now reference time for a missing year or day (epoch seconds)
 * @param defaultZone `logtimezone` offset in minutes, or null for local time
 */
export function fieldsToTime(
  fields: readonly Field[],
  values: ArrayLike<string | undefined>,
  now: number,
  defaultZone: number | null,
  local: LocalTime,
): number {
  let year = -1, month = -1, day = -1;
  let hour = 0, minute = 0, second = 0;
  let zone: number | null = null;
  let weekday = -1, julian = NaN, week = -1;
  let mondayFirst = true;
  let ampm = "";
  let hour12 = -1;
  for (let i = 0; i < fields.length; i++) {
    const v = values[i];
    if (v === undefined) continue;
    switch (fields[i]) {
      case Field.Year4:
        year = digits(v);
        break;
      case Field.Year2:
        year = digits(v);
        if (year <= 2000) year += 2000;
        break;
      case Field.Month:
        month = digits(v);
        break;
      case Field.MonthAbbr:
        month = monthFromAbbr(v);
        break;
      case Field.MonthName:
        month = MONTH_INDEX.get(v.toLowerCase()) ?? 0;
        break;
      case Field.Day:
        day = digits(v);
        break;
      case Field.Hour24:
        hour = digits(v);
        hour12 = -1;
        break;
      case Field.Hour12:
        hour12 = digits(v);
        break;
      case Field.AmPm:
        ampm = v.toLowerCase();
        break;
      case Field.Minute:
        minute = digits(v);
        break;
      case Field.Second:
        second = digits(v);
        break;
      case Field.WeekdayAbbr:
      case Field.WeekdayName:
        weekday = WEEKDAY_INDEX.get(v.toLowerCase()) ?? -1;
        break;
      case Field.WeekdayNum:
        weekday = digits(v) - 1;
        if (weekday < 0) weekday = 6;
        break;
      case Field.YearDay:
        julian = digits(v);
        break;
      case Field.WeekSun:
      case Field.WeekMon:
        week = digits(v);
        mondayFirst = fields[i] === Field.WeekMon;
        break;
      case Field.ZoneOffset:
      case Field.ZoneName:
        zone = v === "Z" || v === "UTC" || v === "GMT" ? 0 : zoneOffsetMinutes(v);
        if (Number.isNaN(zone)) return NaN;
        break;
    }
  }
  if (hour12 >= 0) {
    hour = hour12;
    if (ampm === "pm") {
      if (hour !== 12) hour += 12;
    } else if (ampm === "" || ampm === "am") {
      if (hour === 12) hour = 0;
    }
  }
  let assumeYear = false;
  if (year < 0) {
    local.setNow(now);
    year = local.nowYear;
    assumeYear = true;
  }
  if (month < 0 || day < 0) {
    if (Number.isNaN(julian) && week >= 0 && weekday >= 0) {
      julian = julianFromWeek(year, week, weekday, mondayFirst);
    }
    if (!Number.isNaN(julian)) {
      const ymd = civilFromDays(daysFromCivil(year, 1, 1) + julian - 1);
      year = ymd[0];
      month = ymd[1];
      day = ymd[2];
    }
  }
  let assumeToday = false;
  if (month < 0 && day < 0) {
    local.setNow(now);
    month = local.nowMonth;
    day = local.nowDay;
    assumeToday = true;
  }
  return civilToTime(
    year,
    month,
    day,
    hour,
    minute,
    second,
    zone,
    assumeYear,
    assumeToday,
    defaultZone,
    local,
  );
}

/**
 * The last step of {@link fieldsToTime}: validated calendar fields to epoch
 * seconds. `assumeYear`/`assumeToday` say the year (or the date) was taken
 * from "now" (set with `local.setNow`), so a date ahead of now moves back a
 * year (a day). Returns NaN for an invalid date.
 *
 * @param zone offset in minutes written in the date, or null
 */
export function civilToTime(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  zone: number | null,
  assumeYear: boolean,
  assumeToday: boolean,
  defaultZone: number | null,
  local: LocalTime,
): number {
  // a month without a day (or the reverse) is an error in fail2ban too
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return NaN;
  if (
    year < 1 || year > 9999 || hour > 23 || minute > 59 || second > 59 ||
    Number.isNaN(hour + minute + second + year)
  ) return NaN;
  let naive = daysFromCivil(year, month, day) * DAY + hour * 3600 + minute * 60 + second;
  if (zone === null) zone = defaultZone;
  if (zone !== null) naive -= zone * 60;
  if (assumeToday && naive > local.nowWall) naive -= DAY;
  if (assumeYear && naive > local.nowWall + DAY) {
    // last year, with the month and day as written (time of day as shifted by the zone)
    if (day > daysInMonth(year - 1, month)) return NaN;
    const tod = naive - Math.floor(naive / DAY) * DAY;
    naive = daysFromCivil(year - 1, month, day) * DAY + tod;
  }
  return zone !== null ? naive : local.fromWall(naive);
}
