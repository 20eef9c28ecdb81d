// Views and filters -> the query of GET /api/v1/tasks.

import type { Priority } from "./types";
import { addDays, startOfDay, today, wallToRfc3339 } from "./time";

export type View = "today" | "upcoming" | "overdue" | "all";
export const VIEWS: { id: View; label: string }[] = [
  { id: "today", label: "Today" },
  { id: "upcoming", label: "Upcoming" },
  { id: "overdue", label: "Overdue" },
  { id: "all", label: "All" },
];

export type SortKey = "due" | "-due" | "priority" | "-priority" | "title" | "-title" | "created" | "-created";
export const SORTS: { id: SortKey; label: string }[] = [
  { id: "due", label: "Due date (soonest first)" },
  { id: "-due", label: "Due date (latest first)" },
  { id: "priority", label: "Priority (highest first)" },
  { id: "-priority", label: "Priority (lowest first)" },
  { id: "title", label: "Title (A–Z)" },
  { id: "-title", label: "Title (Z–A)" },
  { id: "created", label: "Created (oldest first)" },
  { id: "-created", label: "Created (newest first)" },
];

export interface Filters {
  q: string;
  status: "open" | "done" | "all";
  priorities: Priority[];
  tags: string[];
  tagMode: "any" | "all";
  /** YYYY-MM-DD in the user's zone, inclusive; "" for none */
  dueFrom: string;
  dueTo: string;
  overdue: boolean;
  noDate: boolean;
  recurring: boolean;
  /** null: the view's default */
  sort: SortKey | null;
}

export const EMPTY_FILTERS: Filters = {
  q: "",
  status: "open",
  priorities: [],
  tags: [],
  tagMode: "any",
  dueFrom: "",
  dueTo: "",
  overdue: false,
  noDate: false,
  recurring: false,
  sort: null,
};

export function defaultSort(view: View): SortKey {
  return view === "all" ? "-created" : "due";
}

/** How many filters differ from the defaults (shown on the Filters button). */
export function activeFilterCount(f: Filters): number {
  let n = 0;
  if (f.status !== "open") n++;
  if (f.priorities.length) n++;
  if (f.tags.length) n++;
  if (f.dueFrom || f.dueTo) n++;
  if (f.overdue) n++;
  if (f.noDate) n++;
  if (f.recurring) n++;
  return n;
}

export function buildTaskQuery(view: View, f: Filters, tz: string, now: Date = new Date(), limit = 50): URLSearchParams {
  const p = new URLSearchParams();
  const q = f.q.trim();
  if (q) p.set("q", q);
  p.set("status", f.status);
  if (f.priorities.length) p.set("priority", f.priorities.join(","));
  for (const t of f.tags) p.append("tag", t);
  if (f.tags.length > 1) p.set("tag_mode", f.tagMode);
  let dueAfter: string | null = null;
  let dueBefore: string | null = null;
  if (view === "today") dueBefore = startOfDay(tz, 1, now);
  if (view === "upcoming") dueAfter = startOfDay(tz, 1, now);
  if (f.dueFrom) {
    const from = wallToRfc3339(f.dueFrom, "00:00", tz);
    dueAfter = dueAfter && dueAfter > from ? dueAfter : from;
  }
  if (f.dueTo) {
    const to = wallToRfc3339(addDays(f.dueTo, 1), "00:00", tz);
    dueBefore = dueBefore && new Date(dueBefore) < new Date(to) ? dueBefore : to;
  }
  if (dueAfter) p.set("due_after", dueAfter);
  if (dueBefore) p.set("due_before", dueBefore);
  if (view === "overdue" || f.overdue) p.set("overdue", "true");
  if (f.noDate) p.set("has_due", "false");
  if (f.recurring) p.set("recurring", "true");
  p.set("sort", f.sort ?? defaultSort(view));
  p.set("limit", String(limit));
  return p;
}

/** A short description of the view for headings ("Today · Wed 25 Nov"). */
export function viewTitle(view: View, tz: string, now = new Date()): string {
  if (view !== "today") return VIEWS.find((v) => v.id === view)?.label ?? "Tasks";
  const [y, m, d] = today(tz, now).split("-").map(Number);
  const label = new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", weekday: "short", day: "numeric", month: "short" }).format(
    new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1, 12)),
  );
  return `Today · ${label}`;
}

/** Filters <-> the page's query string, so a reload or a shared link keeps the view. */
export function filtersToSearch(view: View, f: Filters): string {
  const p = new URLSearchParams();
  if (view !== "today") p.set("view", view);
  if (f.q) p.set("q", f.q);
  if (f.status !== "open") p.set("status", f.status);
  if (f.priorities.length) p.set("priority", f.priorities.join(","));
  for (const t of f.tags) p.append("tag", t);
  if (f.tagMode !== "any") p.set("tag_mode", f.tagMode);
  if (f.dueFrom) p.set("from", f.dueFrom);
  if (f.dueTo) p.set("to", f.dueTo);
  if (f.overdue) p.set("overdue", "1");
  if (f.noDate) p.set("nodate", "1");
  if (f.recurring) p.set("recurring", "1");
  if (f.sort) p.set("sort", f.sort);
  return p.toString();
}

export function filtersFromSearch(search: string): { view: View; filters: Filters } {
  const p = new URLSearchParams(search);
  const v = p.get("view");
  const view: View = v === "upcoming" || v === "overdue" || v === "all" ? v : "today";
  const status = p.get("status");
  const sort = p.get("sort");
  const prios = (p.get("priority") ?? "").split(",").filter((x): x is Priority => ["high", "medium", "low", "none"].includes(x));
  return {
    view,
    filters: {
      ...EMPTY_FILTERS,
      q: p.get("q") ?? "",
      status: status === "done" || status === "all" ? status : "open",
      priorities: prios,
      tags: p.getAll("tag"),
      tagMode: p.get("tag_mode") === "all" ? "all" : "any",
      dueFrom: p.get("from") ?? "",
      dueTo: p.get("to") ?? "",
      overdue: p.get("overdue") === "1",
      noDate: p.get("nodate") === "1",
      recurring: p.get("recurring") === "1",
      sort: SORTS.some((s) => s.id === sort) ? (sort as SortKey) : null,
    },
  };
}

export { today };
