/**
 * The date detector: finds the time of a log line with fail2ban's date
 * templates (or a filter's `datepattern`), preferring the template that
 * matched the previous lines.
 *
 * @module
 */

import type { DateMatch } from "./types.ts";
import {
  type DateTemplate,
  defaultTemplates,
  TemplateFlag,
  templateFromPattern,
  type TemplateMatch,
  templatesForDateMark,
} from "./date_templates.ts";
import { LocalTime, parseLogTimeZone, TIME_DIRECTIVES } from "./strptime.ts";
import type { Directives } from "./date_templates.ts";

/** Options of a {@link DateDetector}. */
export interface DateDetectorOptions {
  /**
   * fail2ban `datepattern`: one or more patterns, one per line; null for
   * fail2ban's default templates.
   * @default null
   */
  datepattern?: string | null;
  /**
   * `logtimezone` for dates without a zone (`UTC`, `UTC+0200`, `+0200`, `CET`);
   * null for the process's local zone (TZ).
   * @default null
   */
  logtimezone?: string | null;
}

/** Hit count of one template, for fail2ban-regex's "Date template hits". */
export interface TemplateHits {
  /** Template name. */
  name: string;
  /** Lines whose date this template gave. */
  hits: number;
  /** Current preference weight (hits × base weight ÷ distance from the line start). */
  weight: number;
  /** Base weight of the template (100 for line-anchored defaults, else 1). */
  baseWeight: number;
  /** The strptime pattern, or null (epoch, TAI64N). */
  pattern: string | null;
  /** The template's regex as fail2ban writes it. */
  regex: string;
}

/** A template in this detector, with its own statistics. */
interface Slot {
  template: DateTemplate;
  hits: number;
  lastUsed: number;
  distance: number;
}

const FAR = 0x7fffffff;
/** Seconds after which an unused template may be displaced. */
const UNUSED_TIME = 300;

function slotWeight(s: Slot): number {
  return s.hits * s.template.weight / Math.max(1, s.distance);
}

function codeAt(line: string, i: number): number {
  return i >= 0 && i < line.length ? line.charCodeAt(i) : -1;
}

const ALNUM_UNICODE = /[\p{L}\p{N}]/u;

function isAlnum(code: number): boolean {
  if (code < 0) return false;
  if (code < 128) {
    return (code >= 48 && code <= 57) || ((code | 32) >= 97 && (code | 32) <= 122);
  }
  return ALNUM_UNICODE.test(String.fromCharCode(code));
}

let anchoredNames: Set<string> | null = null;

/** Names of the line-anchored copies among the default templates. */
function anchoredDefaultNames(): Set<string> {
  if (anchoredNames === null) {
    anchoredNames = new Set(defaultTemplates().filter((t) => t.weight === 100).map((t) => t.name));
  }
  return anchoredNames;
}

/**
 * Finds dates in log lines.
 *
 * Without a `datepattern` it tries fail2ban's default templates: the
 * line-anchored ones first, then the same formats anywhere in the line. The
 * template that matched last is tried first (at the same position, with the
 * same characters around it), and templates that match often move forward,
 * so a log with one format costs one regex test per line.
 *
 * @example
 * ```ts
 * import { DateDetector } from "./date_detector.ts";
 * const dd = new DateDetector({ logtimezone: "UTC" });
 * const m = dd.match("Aug 14 11:59:59 host sshd[1]: Failed password", 1124020800);
 * console.log(m?.time, m?.template); // 1124020799 {^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\.Microseconds)?(?: ExYear)?
 * ```
 */
export class DateDetector {
  readonly #slots: Slot[] = [];
  readonly #names = new Set<string>();
  readonly #defaultZone: number | null;
  readonly #local = new LocalTime();
  readonly #directives: Directives;
  #lazyDefaults: boolean;
  // position of the last match and the characters around it
  #lastPos = 1;
  #lastPrev = -1;
  #lastFirst = -1;
  #lastEnd = FAR;
  #lastEndPrev = -1;
  #lastEndNext = -1;
  #lastIdx = FAR;
  #firstUnused = 0;

  /**
   * A detector with the filter's `datepattern` (or fail2ban's default templates) and
   * `logtimezone`.
   *
   * @throws {SyntaxError} for a bad `datepattern` entry or an unknown `logtimezone`.
   */
  constructor(options: DateDetectorOptions = {}) {
    this.#defaultZone = parseLogTimeZone(options.logtimezone ?? null);
    this.#directives = TIME_DIRECTIVES;
    const dp = options.datepattern ?? null;
    this.#lazyDefaults = dp === null;
    if (dp !== null) {
      for (const p of dp.split(/\n+/).map((s) => s.trim()).filter(Boolean)) this.#appendPattern(p);
      this.#lazyDefaults = this.#slots.length === 0;
    }
  }

  /** Names of the templates in their current order. */
  get templateNames(): string[] {
    this.#ensureTemplates();
    return this.#slots.map((s) => s.template.name);
  }

  /**
   * Everything that decides how the detector reads the lines still to come,
   * as text: template order and statistics, where the last date was, the
   * last local-time offset. Two detectors with equal fingerprints read the
   * same lines the same way (`f2b regex` checks this before it takes the
   * counts of a thread that started in the middle of a log).
   */
  stateFingerprint(): string {
    this.#ensureTemplates();
    const slots = this.#slots.map((s) =>
      `${s.template.name}\u0001${s.hits}\u0001${s.lastUsed}\u0001${s.distance}\u0001${s.template.matchCount}`
    );
    return [
      ...slots,
      this.#lastPos,
      this.#lastPrev,
      this.#lastFirst,
      this.#lastEnd,
      this.#lastEndPrev,
      this.#lastEndNext,
      this.#lastIdx,
      this.#firstUnused,
      this.#local.lastOffset,
    ].join("\u0002");
  }

  /** Hits per template in the current order (fail2ban-regex's "Date template hits"). */
  templateHits(): TemplateHits[] {
    this.#ensureTemplates();
    return this.#slots.map((s) => ({
      name: s.template.name,
      hits: s.hits,
      weight: slotWeight(s),
      baseWeight: s.template.weight,
      pattern: s.template.pattern,
      regex: s.template.regex,
    }));
  }

  #ensureTemplates(): void {
    if (this.#lazyDefaults) {
      this.#lazyDefaults = false;
      this.#addDefaults(null);
    }
  }

  #append(t: DateTemplate, ignoreDup: boolean): void {
    if (this.#names.has(t.name)) {
      if (ignoreDup) return;
      throw new SyntaxError(`Bad datepattern: there is already a template with name "${t.name}"`);
    }
    this.#names.add(t.name);
    // fail2ban shares one object per template name, so a pattern naming a
    // line-anchored default template gets that template's preference weight
    if (t.weight === 1 && anchoredDefaultNames().has(t.name)) t.weight = 100;
    this.#slots.push({ template: t, hits: 0, lastUsed: 0, distance: FAR });
  }

  #addDefaults(filter: ((t: DateTemplate) => boolean) | null): void {
    const ignoreDup = this.#slots.length > 0;
    for (const t of defaultTemplates(this.#directives)) {
      if (filter === null || filter(t)) this.#append(t, ignoreDup);
    }
  }

  #appendPattern(pattern: string): void {
    const key = pattern.includes("%") ? pattern : pattern.toUpperCase();
    if (key === "{^LN-BEG}") {
      this.#addDefaults((t) => (t.flags & TemplateFlag.LINE_BEGIN) !== 0);
      return;
    }
    if (key === "{DEFAULT}") {
      this.#addDefaults(null);
      return;
    }
    if (key.includes("{DATE}")) {
      const ignoreDup = this.#slots.length > 0;
      for (const t of templatesForDateMark(pattern, this.#directives)) this.#append(t, ignoreDup);
      return;
    }
    if (key === "{NONE}") {
      this.#append(templateFromPattern("{UNB}^", this.#directives), false);
      return;
    }
    this.#append(templateFromPattern(pattern, this.#directives), false);
  }

  /**
   * Finds the date in `line`. Returns null when no template matches or the
   * matched text is not a valid date. An empty match (`{NONE}`, or a pattern
   * that matched no text) gives `time = now`; `start`/`end` then point to the
   * empty match.
   *
   * @param now reference time in epoch seconds: the year of year-less dates
   *   (a date more than a day ahead of it belongs to the previous year) and the
   *   day of time-only dates.
   */
  match(line: string, now: number): DateMatch | null {
    this.#ensureTemplates();
    const slots = this.#slots;
    const count = slots.length;
    let m: TemplateMatch | null = null;
    let idx = this.#lastIdx;
    let skip = FAR;
    let found: TemplateMatch | null = null;
    let foundIdx = -1;
    let foundDist = FAR;
    if (idx < count) {
      const t = slots[idx]!.template;
      if (t.anchored) {
        if (t.hasFastMatch) {
          const end = t.fastMatch(line, now, this.#defaultZone, this.#local);
          if (end >= 0) return this.#fastHit(slots[idx]!, line, end, now);
        }
        m = t.search(line);
        skip = idx;
      } else {
        const d = this.#lastPos, e = this.#lastEnd;
        const before = (codeAt(line, d - 1) === this.#lastPrev) ||
          (codeAt(line, d) === this.#lastFirst && !isAlnum(this.#lastFirst));
        const after = (codeAt(line, e) === this.#lastEndNext) ||
          (codeAt(line, e - 1) === this.#lastEndPrev && !isAlnum(this.#lastEndPrev));
        if (before && after) {
          m = t.matchAt(line, d);
          if (m !== null && m.index + m[0].length !== e) m = null;
        } else {
          m = t.search(line);
          skip = idx;
          if (m !== null && !(count === 1 || (m.index === d && m.index + m[0].length === e))) {
            found = m;
            foundIdx = idx;
            foundDist = m.index;
            m = null;
          }
        }
      }
    }
    if (m === null) {
      for (let i = 0; i < count; i++) {
        if (i === skip) continue;
        const slot = slots[i]!;
        const t = slot.template;
        const cand = t.search(line);
        if (cand === null) continue;
        const dist = cand.index;
        if (i + 1 >= count || t.anchored) {
          m = cand;
          idx = i;
          break;
        }
        if (dist === 0 && slot.hits > 0 && slots[i + 1]!.template.matchCount === 0) {
          m = cand;
          idx = i;
          break;
        }
        if (dist > slot.distance || dist > this.#lastPos) {
          // maybe a date-like text inside the message: keep it, look for a closer one
          if (dist < foundDist) {
            found = cand;
            foundIdx = i;
            foundDist = dist;
          }
          continue;
        }
        m = cand;
        idx = i;
        break;
      }
      if (m === null && found !== null) {
        m = found;
        idx = foundIdx;
      }
    }
    if (m === null) return null;
    const slot = slots[idx]!;
    const template = slot.template;
    const dist = m.index;
    const end = dist + m[0].length;
    slot.hits++;
    slot.lastUsed = now;
    slot.distance = dist;
    if (this.#firstUnused === idx) this.#firstUnused++;
    this.#lastPos = dist;
    this.#lastPrev = codeAt(line, dist - 1);
    this.#lastFirst = codeAt(line, dist);
    this.#lastEnd = end;
    this.#lastEndPrev = codeAt(line, end - 1);
    this.#lastEndNext = codeAt(line, end);
    if (idx !== 0 && idx !== this.#lastIdx) idx = this.#reorder(idx);
    this.#lastIdx = idx;
    const start = template.dateStart(m);
    const stop = template.dateEnd(m);
    if (start === stop) return { time: now, start, end: stop, template: template.name };
    const time = template.toTime(m, now, this.#defaultZone, this.#local);
    if (Number.isNaN(time)) return null;
    return { time, start, end: stop, template: template.name };
  }

  /**
   * The end of {@link DateDetector.match} when the last template read the
   * date at offset 0 by its fast path: the same bookkeeping as a regex match
   * of that template at the same index (so no reordering).
   */
  #fastHit(slot: Slot, line: string, end: number, now: number): DateMatch | null {
    slot.hits++;
    slot.lastUsed = now;
    slot.distance = 0;
    if (this.#firstUnused === this.#lastIdx) this.#firstUnused++;
    this.#lastPos = 0;
    this.#lastPrev = -1;
    this.#lastFirst = line.charCodeAt(0);
    this.#lastEnd = end;
    this.#lastEndPrev = line.charCodeAt(end - 1);
    this.#lastEndNext = end < line.length ? line.charCodeAt(end) : -1;
    const time = slot.template.fastTime;
    if (Number.isNaN(time)) return null;
    return { time, start: 0, end, template: slot.template.name };
  }

  /** Moves a template that keeps winning towards the front; returns its new index. */
  #reorder(num: number): number {
    const slots = this.#slots;
    const slot = slots[num]!;
    const untime = slot.lastUsed - UNUSED_TIME;
    const weight = slotWeight(slot);
    let pos = this.#firstUnused < num ? this.#firstUnused : num >> 1;
    const movable = () => weight > slotWeight(slots[pos]!) || untime > slots[pos]!.lastUsed;
    if (!movable()) {
      if (pos === num - 1) return num;
      pos = num - 1;
      if (!movable()) return num;
    }
    slots.splice(num, 1);
    slots.splice(pos, 0, slot);
    while (this.#firstUnused < slots.length && slots[this.#firstUnused]!.hits > 0) {
      this.#firstUnused++;
    }
    return pos;
  }
}
