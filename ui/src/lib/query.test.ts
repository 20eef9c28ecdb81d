import { describe, expect, it } from "vitest";
import { EMPTY_FILTERS, activeFilterCount, buildTaskQuery, filtersFromSearch, filtersToSearch } from "./query";

const now = new Date("2026-11-25T10:00:00Z");
const tz = "Europe/Berlin";

describe("views and filters -> GET /tasks", () => {
  it("Today is everything open due before tomorrow (overdue included), soonest first", () => {
    const q = buildTaskQuery("today", EMPTY_FILTERS, tz, now);
    expect(Object.fromEntries(q)).toEqual({ status: "open", due_before: "2026-11-26T00:00:00+01:00", sort: "due", limit: "50" });
  });

  it("Upcoming starts tomorrow, Overdue asks the API, All sorts newest first", () => {
    expect(buildTaskQuery("upcoming", EMPTY_FILTERS, tz, now).get("due_after")).toBe("2026-11-26T00:00:00+01:00");
    expect(buildTaskQuery("overdue", EMPTY_FILTERS, tz, now).get("overdue")).toBe("true");
    expect(buildTaskQuery("all", EMPTY_FILTERS, tz, now).get("sort")).toBe("-created");
  });

  it("passes search, priorities, tags with their mode, date range, no-date and sort", () => {
    const q = buildTaskQuery(
      "all",
      {
        ...EMPTY_FILTERS,
        q: "  report ",
        status: "all",
        priorities: ["high", "medium"],
        tags: ["work", "home"],
        tagMode: "all",
        dueFrom: "2026-12-01",
        dueTo: "2026-12-07",
        sort: "priority",
      },
      tz,
      now,
    );
    expect(q.get("q")).toBe("report");
    expect(q.get("status")).toBe("all");
    expect(q.get("priority")).toBe("high,medium");
    expect(q.getAll("tag")).toEqual(["work", "home"]);
    expect(q.get("tag_mode")).toBe("all");
    expect(q.get("due_after")).toBe("2026-12-01T00:00:00+01:00");
    expect(q.get("due_before")).toBe("2026-12-08T00:00:00+01:00"); // the end day is included
    expect(q.get("sort")).toBe("priority");
    expect(buildTaskQuery("all", { ...EMPTY_FILTERS, noDate: true }, tz, now).get("has_due")).toBe("false");
  });

  it("round-trips through the address bar", () => {
    const f = { ...EMPTY_FILTERS, q: "rent", priorities: ["high" as const], tags: ["home"], overdue: true, sort: "title" as const };
    const back = filtersFromSearch(filtersToSearch("upcoming", f));
    expect(back.view).toBe("upcoming");
    expect(back.filters).toEqual(f);
    expect(activeFilterCount(f)).toBe(3);
  });
});
