import assert from "node:assert/strict";
import {
  civilFromDays,
  daysFromCivil,
  Field,
  fieldsToTime,
  LocalTime,
  parseLogTimeZone,
  zoneOffsetMinutes,
} from "./strptime.ts";

Deno.test("zoneOffsetMinutes reads offsets and fail2ban's zone abbreviations", () => {
  assert.equal(zoneOffsetMinutes("+0200"), 120);
  assert.equal(zoneOffsetMinutes("-05:30"), -330);
  assert.equal(zoneOffsetMinutes("+01"), 60);
  assert.equal(zoneOffsetMinutes("UTC"), 0);
  assert.equal(zoneOffsetMinutes("CEST"), 120);
  assert.equal(zoneOffsetMinutes("UTC+0200"), 120);
  assert.equal(zoneOffsetMinutes("NPT"), 345);
  assert.equal(zoneOffsetMinutes("CET-0100"), 0);
  assert.ok(Number.isNaN(zoneOffsetMinutes("XYZ")));
  assert.ok(Number.isNaN(zoneOffsetMinutes("cest")));
});

Deno.test("parseLogTimeZone accepts null and empty as local time, rejects unknown zones", () => {
  assert.equal(parseLogTimeZone(null), null);
  assert.equal(parseLogTimeZone(" "), null);
  assert.equal(parseLogTimeZone("GMT-03"), -180);
  assert.throws(
    () => parseLogTimeZone("Europe/Zurich"),
    /Unknown or unsupported time zone: "Europe\/Zurich"/,
  );
});

Deno.test("daysFromCivil and civilFromDays are inverse over leap years and centuries", () => {
  for (
    const [y, m, d] of [[1970, 1, 1], [2000, 2, 29], [1900, 3, 1], [2005, 8, 14], [1, 1, 1], [
      9999,
      12,
      31,
    ]]
  ) {
    const n = daysFromCivil(y!, m!, d!);
    assert.deepEqual(civilFromDays(n), [y, m, d]);
    assert.equal(n, Math.floor(new Date(0).setUTCFullYear(y!, m! - 1, d!) / 86400000));
  }
});

Deno.test("LocalTime follows TZ, including gaps and repeated hours", () => {
  const old = Deno.env.get("TZ");
  Deno.env.set("TZ", "America/New_York");
  try {
    const lt = new LocalTime();
    const wall = (y: number, mo: number, d: number, h: number, mi: number) =>
      Date.UTC(y, mo - 1, d, h, mi) / 1000;
    assert.equal(lt.fromWall(wall(2023, 7, 1, 12, 0)), Date.UTC(2023, 6, 1, 16) / 1000);
    assert.equal(lt.fromWall(wall(2023, 1, 1, 12, 0)), Date.UTC(2023, 0, 1, 17) / 1000);
    // 02:30 on 2023-03-12 does not exist: read with the offset before the change (EST)
    assert.equal(lt.fromWall(wall(2023, 3, 12, 2, 30)), Date.UTC(2023, 2, 12, 7, 30) / 1000);
    // 01:30 on 2023-11-05 happens twice: the previous conversion was EST, so EST
    assert.equal(lt.fromWall(wall(2023, 11, 5, 1, 30)), Date.UTC(2023, 10, 5, 6, 30) / 1000);
    lt.fromWall(wall(2023, 7, 1, 12, 0));
    assert.equal(lt.fromWall(wall(2023, 11, 5, 1, 30)), Date.UTC(2023, 10, 5, 5, 30) / 1000);
  } finally {
    if (old === undefined) Deno.env.delete("TZ");
    else Deno.env.set("TZ", old);
  }
});

Deno.test("fieldsToTime handles 12-hour clocks, two-digit years and week numbers", () => {
  const lt = new LocalTime();
  const now = 1124013600;
  const t = (fields: Field[], values: string[]) => fieldsToTime(fields, values, now, 0, lt);
  assert.equal(
    t([Field.Year2, Field.Month, Field.Day, Field.Hour12, Field.AmPm], [
      "05",
      "8",
      "14",
      "12",
      "AM",
    ]),
    Date.UTC(2005, 7, 14, 0) / 1000,
  );
  assert.equal(
    t([Field.Year2, Field.Month, Field.Day, Field.Hour12, Field.AmPm], [
      "05",
      "8",
      "14",
      "1",
      "pm",
    ]),
    Date.UTC(2005, 7, 14, 13) / 1000,
  );
  assert.equal(t([Field.Year4, Field.YearDay], ["2005", "32"]), Date.UTC(2005, 1, 1) / 1000);
  assert.equal(
    t([Field.Year4, Field.WeekMon, Field.WeekdayAbbr], ["2005", "1", "Mon"]),
    Date.UTC(2005, 0, 3) / 1000,
  );
  assert.ok(
    Number.isNaN(t([Field.Month, Field.Hour24], ["8", "10"])),
    "a month without a day is no date",
  );
  assert.ok(Number.isNaN(t([Field.MonthAbbr, Field.Day, Field.ZoneName], ["Aug", "14", "XYZ"])));
});
