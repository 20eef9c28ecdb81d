import { describe, expect, it } from "vitest";
import { type RecurrenceModel, defaultModel, describe as describeRule, fromRRule, toRRule, validateRRule } from "./rrule";

const model = (patch: Partial<RecurrenceModel>): RecurrenceModel => ({ ...defaultModel("none", "2026-11-25"), ...patch });

describe("recurrence model <-> RRULE", () => {
  it.each([
    [model({ freq: "daily" }), "FREQ=DAILY", "Every day"],
    [model({ freq: "daily", interval: 3, count: 10 }), "FREQ=DAILY;INTERVAL=3;COUNT=10", "Every 3 days, 10 times"],
    [model({ freq: "weekly", days: ["WE", "MO"] }), "FREQ=WEEKLY;BYDAY=MO,WE", "Every week on Mon, Wed"],
    [model({ freq: "weekly", days: ["MO", "TU", "WE", "TH", "FR"] }), "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "Every week on weekdays"],
    [model({ freq: "weekly", interval: 2, days: ["FR"] }), "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR", "Every 2 weeks on Fri"],
    [model({ freq: "monthly", monthlyMode: "day", monthDay: 1 }), "FREQ=MONTHLY;BYMONTHDAY=1", "Every month on the 1st"],
    [model({ freq: "monthly", monthlyMode: "nth", nth: 3, nthWeekday: "FR" }), "FREQ=MONTHLY;BYDAY=3FR", "Every month on the third Friday"],
    [model({ freq: "monthly", monthlyMode: "nth", nth: -1, nthWeekday: "MO" }), "FREQ=MONTHLY;BYDAY=-1MO", "Every month on the last Monday"],
    [model({ freq: "monthly", monthlyMode: "last" }), "FREQ=MONTHLY;BYMONTHDAY=-1", "Every month on the last day"],
    [model({ freq: "yearly" }), "FREQ=YEARLY", "Every year"],
  ])("%# builds %s and reads it back", (m, rrule, words) => {
    expect(toRRule(m)).toBe(rrule);
    expect(describeRule(m)).toBe(words);
    expect(toRRule(fromRRule(rrule, "2026-11-25"))).toBe(rrule);
  });

  it("keeps rules the builder cannot show as custom, unchanged", () => {
    const rule = "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1";
    const m = fromRRule(rule);
    expect(m.freq).toBe("custom");
    expect(toRRule(m)).toBe(rule);
    expect(fromRRule("FREQ=WEEKLY;BYDAY=1MO").freq).toBe("custom");
  });

  it("starts new rules from the due date", () => {
    const m = defaultModel("weekly", "2026-11-27"); // a Friday, the 27th (4th week)
    expect(m.days).toEqual(["FR"]);
    expect(m.monthDay).toBe(27);
    expect(m.nth).toBe(4);
    expect(toRRule(defaultModel("none"))).toBeNull();
  });

  it("explains what is wrong with a custom rule", () => {
    expect(validateRRule("FREQ=WEEKLY;BYDAY=MO,WE")).toBeNull();
    expect(validateRRule("RRULE:FREQ=DAILY;COUNT=3")).toBeNull();
    expect(validateRRule("BYDAY=MO")).toMatch(/FREQ is required/);
    expect(validateRRule("FREQ=SOMETIMES")).toMatch(/Unknown FREQ/);
    expect(validateRRule("FREQ=DAILY;INTERVAL=0")).toMatch(/positive/);
    expect(validateRRule("FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z")).toMatch(/COUNT or UNTIL/);
    expect(validateRRule("FREQ=WEEKLY;BYDAY=XX")).toMatch(/BYDAY/);
    expect(validateRRule("every day")).toMatch(/KEY=VALUE/);
  });
});
