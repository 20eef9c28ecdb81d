import { describe, expect, it } from "vitest";
import { addDays, formatDue, instantToWall, isOverdue, offsetMinutes, startOfDay, toRfc3339, wallToInstant, wallToRfc3339, weekdayOf } from "./time";

describe("zoned wall time", () => {
  it("converts a wall time to RFC 3339 with the zone's offset, across DST", () => {
    expect(wallToRfc3339("2026-12-04", "17:00", "Europe/Berlin")).toBe("2026-12-04T17:00:00+01:00");
    expect(wallToRfc3339("2026-07-04", "17:00", "Europe/Berlin")).toBe("2026-07-04T17:00:00+02:00");
    expect(wallToRfc3339("2026-03-08", "09:30", "America/New_York")).toBe("2026-03-08T09:30:00-04:00");
    expect(wallToRfc3339("2026-12-04", "08:15:30", "Asia/Kolkata")).toBe("2026-12-04T08:15:30+05:30");
  });

  it("moves a time in the spring-forward gap forward, and takes the earlier of two in the fall-back overlap", () => {
    // 2026-03-29 02:30 does not exist in Berlin (02:00 -> 03:00)
    expect(toRfc3339(wallToInstant("2026-03-29", "02:30", "Europe/Berlin"), "Europe/Berlin")).toBe("2026-03-29T03:30:00+02:00");
    // 2026-10-25 02:30 happens twice in Berlin: the first is +02:00
    expect(wallToRfc3339("2026-10-25", "02:30", "Europe/Berlin")).toBe("2026-10-25T02:30:00+02:00");
  });

  it("reads an instant back as the wall time of a zone", () => {
    expect(instantToWall("2026-12-04T16:00:00Z", "Europe/Berlin")).toEqual({ date: "2026-12-04", time: "17:00" });
    expect(instantToWall("2026-12-04T23:30:05Z", "America/Los_Angeles")).toEqual({ date: "2026-12-04", time: "15:30:05" });
    expect(offsetMinutes(new Date("2026-06-01T00:00:00Z"), "America/New_York")).toBe(-240);
  });

  it("counts days on the calendar and starts days at local midnight", () => {
    expect(addDays("2026-12-31", 1)).toBe("2027-01-01");
    expect(addDays("2028-03-01", -1)).toBe("2028-02-29");
    expect(weekdayOf("2026-11-25")).toBe(2); // a Wednesday
    const now = new Date("2026-11-25T23:30:00Z"); // already the 26th in Berlin
    expect(startOfDay("Europe/Berlin", 0, now)).toBe("2026-11-26T00:00:00+01:00");
    expect(startOfDay("Europe/Berlin", 1, now)).toBe("2026-11-27T00:00:00+01:00");
  });

  it("labels due dates for the viewer and knows what is overdue", () => {
    const now = new Date("2026-11-25T10:00:00Z");
    expect(formatDue("2026-11-25T16:00:00+01:00", false, "Europe/Berlin", "Europe/Berlin", now)).toBe("Today 16:00");
    expect(formatDue("2026-11-26T09:00:00+01:00", false, "Europe/Berlin", "Europe/Berlin", now)).toBe("Tomorrow 09:00");
    expect(formatDue("2026-12-04T17:00:00+01:00", false, "Europe/Berlin", "America/New_York", now)).toBe("Fri 4 Dec 11:00");
    expect(formatDue("2026-12-24T00:00:00+01:00", true, "Europe/Berlin", "America/Los_Angeles", now)).toBe("Thu 24 Dec");
    expect(isOverdue("2026-11-25T09:00:00Z", false, "UTC", now)).toBe(true);
    expect(isOverdue("2026-11-25T00:00:00+00:00", true, "UTC", now)).toBe(false); // an all-day task is due all day
    expect(isOverdue(null, false, "UTC", now)).toBe(false);
  });
});
