import assert from "node:assert/strict";
import { DateDetector } from "./date_detector.ts";
import { withTz } from "../../tests/_with_tz.ts";

type Expect = [number, number, string, number] | null;
interface Case {
  datepattern: string | null;
  tz: string;
  logtimezone: string | null;
  now: number;
  lines: [string, Expect][];
}

/**
 * Results of fail2ban 1.0.2's date detector for these lines (start and end
 * of the date text, template name, epoch seconds); one detector per case,
 * lines in order, so template preference and DST state carry over.
 */
const CASES: Case[] = [
  {
    "datepattern": null,
    "tz": "Europe/Zurich",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        "Aug 14 11:59:59 host sshd[1]: x",
        [
          0,
          15,
          "{^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
          1124013599.0,
        ],
      ],
      [
        "Sun Aug 14 11:59:59.123 2005 host",
        [
          0,
          28,
          "{^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
          1124013599.0,
        ],
      ],
      [
        "Aug 14 2005 11:00:00.011 x",
        [
          0,
          24,
          "{^LN-BEG}(?:DAY )?MON Day ExYear %k:Minute:Second(?:\\.Microseconds)?",
          1124010000.0,
        ],
      ],
      [
        "2005-08-14 11:00:00 x",
        [
          0,
          19,
          "{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
          1124010000.0,
        ],
      ],
      [
        "2005-08-14T11:00:00Z x",
        [
          0,
          20,
          "{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
          1124017200,
        ],
      ],
      [
        "2005-08-14T11:00:00+02:00 x",
        [
          0,
          25,
          "{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
          1124010000,
        ],
      ],
      [
        "2005-08-14T11:00:00.123456 -0500 x",
        [
          0,
          32,
          "{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
          1124035200,
        ],
      ],
      [
        "2005.08.14 11:00:00 dots",
        [
          0,
          19,
          "{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
          1124010000.0,
        ],
      ],
      [
        "[14/Aug/2005:11:00:00 -0000] GET",
        [
          1,
          27,
          "{^LN-BEG}Day(?P<_sep>[-/])MON(?P=_sep)ExYear[ :]?24hour:Minute:Second(?:\\.Microseconds)?(?: Zone offset)?",
          1124017200,
        ],
      ],
      [
        "14/Aug/2005:11:00:00 +0200 x",
        [
          0,
          26,
          "{^LN-BEG}Day(?P<_sep>[-/])MON(?P=_sep)ExYear[ :]?24hour:Minute:Second(?:\\.Microseconds)?(?: Zone offset)?",
          1124010000,
        ],
      ],
      [
        "14-Aug-2005 11:00:00.252 named",
        [
          0,
          24,
          "{^LN-BEG}Day(?P<_sep>[-/])MON(?P=_sep)ExYear[ :]?24hour:Minute:Second(?:\\.Microseconds)?(?: Zone offset)?",
          1124010000.0,
        ],
      ],
      [
        "08/14/2005:11:00:00 cpanel",
        [
          0,
          19,
          "{^LN-BEG}Month/Day/ExYear:24hour:Minute:Second",
          1124010000.0,
        ],
      ],
      [
        "14/08/2005 11:00:00 x11vnc",
        [
          0,
          19,
          "{^LN-BEG}Day(?P<_sep>[-/])Month(?P=_sep)(?:ExYear|ExYear2) %k:Minute:Second",
          1124010000.0,
        ],
      ],
      [
        "14-08-05 11:00:00 x",
        [
          0,
          17,
          "{^LN-BEG}Day(?P<_sep>[-/])Month(?P=_sep)(?:ExYear|ExYear2) %k:Minute:Second",
          1124010000.0,
        ],
      ],
      [
        "08-14-2005 11:00:00.252 x",
        [
          0,
          23,
          "{^LN-BEG}Month-Day-ExYear %k:Minute:Second(?:\\.Microseconds)?",
          1124010000.0,
        ],
      ],
      [
        "1124013600.5 epoch",
        [
          0,
          10,
          "{^LN-BEG}Epoch",
          1124013600.0,
        ],
      ],
      [
        "[1124013600] bracket",
        [
          1,
          11,
          "{^LN-BEG}Epoch",
          1124013600.0,
        ],
      ],
      [
        "audit(1124013600.100:55): selinux",
        [
          6,
          20,
          "Epoch",
          1124013600.1,
        ],
      ],
      [
        "@4000000042fefaf01b0bb0f4 tai",
        [
          0,
          25,
          "{^LN-BEG}TAI64N",
          1124006640,
        ],
      ],
      [
        "050814 11:00:00 mysql",
        [
          0,
          15,
          "{^LN-BEG}ExYear2ExMonthExDay  ?24hour:Minute:Second",
          1124010000.0,
        ],
      ],
      [
        "050814  1:00:00 mysql2",
        [
          0,
          15,
          "{^LN-BEG}ExYear2ExMonthExDay  ?24hour:Minute:Second",
          1123974000.0,
        ],
      ],
      [
        "20050814T110000 compact",
        [
          0,
          15,
          "{^LN-BEG}ExYearExMonthExDay(?:T|  ?)Ex24hourExMinuteExSecond(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
          1124010000.0,
        ],
      ],
      [
        "<08/14/05@11:00:00> x",
        [
          0,
          19,
          "^<Month/Day/ExYear2@24hour:Minute:Second>",
          1124010000.0,
        ],
      ],
      [
        "Aug 14, 2005 11:00:00 PM tomcat",
        [
          0,
          24,
          "{^LN-BEG}MON Day, ExYear 12hour:Minute:Second AMPM",
          1124053200.0,
        ],
      ],
      [
        "Aug-14-05 11:00:00 assp",
        [
          0,
          18,
          "^MON-Day-ExYear2 %k:Minute:Second",
          1124010000.0,
        ],
      ],
      [
        "PDT Aug 14 11:00:00 monit",
        [
          0,
          19,
          "{^LN-BEG}(?:Zone name )?(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
          1124042400,
        ],
      ],
      [
        "+02:00 Aug 14 11:00:00 2005 zoneoff",
        [
          0,
          27,
          "{^LN-BEG}(?:Zone offset )?(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
          1124010000,
        ],
      ],
      [
        "11:00:00 timeonly",
        [
          0,
          8,
          "{^LN-BEG}24hour:Minute:Second",
          1124010000.0,
        ],
      ],
      [
        "13:00:00 timeonly future",
        [
          0,
          8,
          "{^LN-BEG}24hour:Minute:Second",
          1123930800.0,
        ],
      ],
      [
        "no date here",
        null,
      ],
      [
        "x2005-08-14 11:00:00 glued",
        null,
      ],
      [
        "Aug 14 24:00:00 bad hour",
        null,
      ],
      [
        "Sep 31 11:00:00 bad day",
        null,
      ],
      [
        "prefix Aug 14 11:59:59 mid",
        [
          7,
          22,
          "(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
          1124013599.0,
        ],
      ],
    ],
  },
  {
    "datepattern": null,
    "tz": "UTC",
    "logtimezone": null,
    "now": 1104580800,
    "lines": [
      [
        "Dec 31 23:59:59 x",
        [
          0,
          15,
          "{^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
          1104537599.0,
        ],
      ],
      [
        "Jan  2 11:59:59 x",
        [
          0,
          15,
          "{^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
          1104667199.0,
        ],
      ],
      [
        "Jan  2 12:00:01 x",
        [
          0,
          15,
          "{^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
          1073044801.0,
        ],
      ],
      [
        "Feb 29 10:00:00 x",
        null,
      ],
    ],
  },
  {
    "datepattern": null,
    "tz": "Europe/Zurich",
    "logtimezone": null,
    "now": 1130000000,
    "lines": [
      [
        "2005-03-27 02:30:00 gap",
        [
          0,
          19,
          "{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
          1111887000.0,
        ],
      ],
      [
        "2005-07-01 12:00:00 summer",
        [
          0,
          19,
          "{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
          1120212000.0,
        ],
      ],
      [
        "2005-10-30 02:30:00 overlap after summer",
        [
          0,
          19,
          "{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
          1130632200.0,
        ],
      ],
      [
        "2005-01-01 12:00:00 winter",
        [
          0,
          19,
          "{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
          1104577200.0,
        ],
      ],
      [
        "2005-10-30 02:30:00 overlap after winter",
        [
          0,
          19,
          "{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
          1130635800.0,
        ],
      ],
    ],
  },
  {
    "datepattern": null,
    "tz": "Europe/Zurich",
    "logtimezone": "UTC+0200",
    "now": 1124013600,
    "lines": [
      [
        "2005-08-14 11:00:00 x",
        [
          0,
          19,
          "{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
          1124010000,
        ],
      ],
      [
        "2005-08-14T11:00:00Z x",
        [
          0,
          20,
          "{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
          1124017200,
        ],
      ],
      [
        "Aug 14 11:00:00 x",
        [
          0,
          15,
          "{^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
          1124010000,
        ],
      ],
    ],
  },
  {
    "datepattern": null,
    "tz": "America/New_York",
    "logtimezone": "-0530",
    "now": 1124013600,
    "lines": [
      [
        "2005-08-14 11:00:00 x",
        [
          0,
          19,
          "{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
          1124037000,
        ],
      ],
    ],
  },
  {
    "datepattern": null,
    "tz": "UTC",
    "logtimezone": "CEST",
    "now": 1124013600,
    "lines": [
      [
        "2005-08-14 11:00:00 x",
        [
          0,
          19,
          "{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
          1124010000,
        ],
      ],
    ],
  },
  {
    "datepattern": "%d.%m.%y %l:%M %p",
    "tz": "UTC",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        "on 14.08.05  3:45 pm x",
        [
          3,
          20,
          "Day.Month.Year2 %l:Minute AMPM",
          1124034300.0,
        ],
      ],
      [
        "14.08.05 12:45 am x",
        [
          0,
          17,
          "Day.Month.Year2 %l:Minute AMPM",
          1123980300.0,
        ],
      ],
      [
        "14.08.05 12:45 pm x",
        [
          0,
          17,
          "Day.Month.Year2 %l:Minute AMPM",
          1124023500.0,
        ],
      ],
    ],
  },
  {
    "datepattern": "%j %Y %H:%M",
    "tz": "UTC",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        "100 2005 12:30 x",
        [
          0,
          14,
          "Yearday Year 24hour:Minute",
          1113136200.0,
        ],
      ],
      [
        "366 2004 00:00 x",
        [
          0,
          14,
          "Yearday Year 24hour:Minute",
          1104451200.0,
        ],
      ],
    ],
  },
  {
    "datepattern": "%Y %U %w %H",
    "tz": "UTC",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        "2005 32 1 12 x",
        [
          0,
          12,
          "Year Yearweek Weekday 24hour",
          1123502400.0,
        ],
      ],
    ],
  },
  {
    "datepattern": "%A %B %d %Y %H:%M",
    "tz": "UTC",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        "Monday August 15 2005 12:00 x",
        [
          0,
          27,
          "DAYNAME MONTH Day Year 24hour:Minute",
          1124107200.0,
        ],
      ],
    ],
  },
  {
    "datepattern": "%c",
    "tz": "UTC",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        "Sun Aug 14 11:00:00 2005 x",
        [
          0,
          24,
          "%c",
          1124017200.0,
        ],
      ],
    ],
  },
  {
    "datepattern": "%x %X",
    "tz": "UTC",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        "08/14/05 11:22:33 x",
        [
          0,
          17,
          "%x %X",
          1124018553.0,
        ],
      ],
    ],
  },
  {
    "datepattern": "^%Y-%m-%d %H:%M:%S%%",
    "tz": "UTC",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        "2005-08-14 11:00:00% x",
        [
          0,
          20,
          "^Year-Month-Day 24hour:Minute:Second%",
          1124017200.0,
        ],
      ],
    ],
  },
  {
    "datepattern": "%ExZ %b %d %H:%M:%S",
    "tz": "UTC",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        "CEST Aug 14 11:00:00 x",
        [
          0,
          20,
          "ExZone name MON Day 24hour:Minute:Second",
          1124010000,
        ],
      ],
      [
        "XYZ Aug 14 11:00:00 x",
        null,
      ],
    ],
  },
  {
    "datepattern": "%Exz %H:%M:%S",
    "tz": "UTC",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        "UTC+0200 12:00:00 x",
        [
          0,
          17,
          "ExZone offset 24hour:Minute:Second",
          1124013600,
        ],
      ],
    ],
  },
  {
    "datepattern": "{UNB}%H:%M:%S",
    "tz": "UTC",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        "abc11:00:00def",
        [
          3,
          11,
          "24hour:Minute:Second",
          1123930800.0,
        ],
      ],
    ],
  },
  {
    "datepattern": "%H:%M:%S",
    "tz": "UTC",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        "abc11:00:00def",
        null,
      ],
      [
        "abc 11:00:00 def",
        [
          4,
          12,
          "24hour:Minute:Second",
          1123930800.0,
        ],
      ],
    ],
  },
  {
    "datepattern": "LEPOCH",
    "tz": "UTC",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        "1124013600123 x",
        [
          0,
          13,
          "LongEpoch",
          1124013600.123,
        ],
      ],
      [
        "1124013600123456 x",
        [
          0,
          16,
          "LongEpoch",
          1124013600.123456,
        ],
      ],
      [
        "1124013600.5 x",
        [
          0,
          10,
          "LongEpoch",
          1124013600.0,
        ],
      ],
    ],
  },
  {
    "datepattern": "^%Y-%m-%d %H:%M:%S {EPOCH}",
    "tz": "UTC",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        "2005-08-14 11:00:00 1124013600 x",
        null,
      ],
    ],
  },
  {
    "datepattern": "{^LN-BEG}",
    "tz": "UTC",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        "Aug 14 11:00:00 x",
        [
          0,
          15,
          "{^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
          1124017200.0,
        ],
      ],
      [
        "x Aug 14 11:00:00",
        null,
      ],
    ],
  },
  {
    "datepattern": "^[^\\[]*\\[({DATE})\n{^LN-BEG}",
    "tz": "UTC",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        'host - - [14/Aug/2005:11:00:00 +0200] "GET /"',
        [
          10,
          36,
          "^[^\\[]*\\[(Day(?P<_sep>[-/])MON(?P=_sep)ExYear[ :]?24hour:Minute:Second(?:\\.Microseconds)?(?: Zone offset)?)",
          1124010000,
        ],
      ],
      [
        "Aug 14 11:00:00 x",
        [
          0,
          15,
          "{^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
          1124017200.0,
        ],
      ],
    ],
  },
  {
    "datepattern": "^<\\d+>\\d+\\s+{DATE}",
    "tz": "UTC",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        "<14>1 2005-08-14T11:00:00Z host",
        [
          0,
          26,
          "^<\\d+>\\d+\\s+ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?",
          1124017200,
        ],
      ],
    ],
  },
  {
    "datepattern": "{^LN-BEG}TAI64N\n{^LN-BEG}",
    "tz": "UTC",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        "@4000000042fefaf01b0bb0f4 x",
        [
          0,
          25,
          "{^LN-BEG}TAI64N",
          1124006640,
        ],
      ],
      [
        "Aug 14 11:00:00 x",
        [
          0,
          15,
          "{^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?",
          1124017200.0,
        ],
      ],
    ],
  },
  {
    "datepattern": "^(?:%Y-)?%m-%d[ T]%H:%M:%S(?:\\.%f)?",
    "tz": "UTC",
    "logtimezone": null,
    "now": 1124013600,
    "lines": [
      [
        "08-14 11:00:00.123 x",
        [
          0,
          18,
          "^(?:Year-)?Month-Day[ T]24hour:Minute:Second(?:\\.Microseconds)?",
          1124017200.0,
        ],
      ],
      [
        "2004-08-14 11:00:00 x",
        [
          0,
          19,
          "^(?:Year-)?Month-Day[ T]24hour:Minute:Second(?:\\.Microseconds)?",
          1092481200.0,
        ],
      ],
    ],
  },
];

for (const c of CASES) {
  const what =
    `${c.datepattern === null ? "default templates" : JSON.stringify(c.datepattern)}, TZ ${c.tz}` +
    (c.logtimezone ? `, logtimezone ${c.logtimezone}` : "");
  Deno.test(`DateDetector agrees with fail2ban: ${what}`, () => {
    withTz(c.tz, () => {
      const dd = new DateDetector({ datepattern: c.datepattern, logtimezone: c.logtimezone });
      for (const [line, expected] of c.lines) {
        const m = dd.match(line, c.now);
        const got = m === null ? null : [m.start, m.end, m.template, m.time];
        assert.deepEqual(got, expected, `line ${JSON.stringify(line)}`);
      }
    });
  });
}
