// Wall-clock time in an IANA zone <-> instants, with the platform's Intl data only.

export interface Wall {
  /** YYYY-MM-DD */
  date: string;
  /** HH:MM or HH:MM:SS (24 h) */
  time: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function partsFormatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(tz, f);
  }
  return f;
}

interface Fields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function wallFields(instant: Date, tz: string): Fields {
  const out: Record<string, number> = {};
  for (const p of partsFormatter(tz).formatToParts(instant)) {
    if (p.type !== "literal") out[p.type] = Number(p.value);
  }
  return {
    year: out.year ?? 1970,
    month: out.month ?? 1,
    day: out.day ?? 1,
    hour: (out.hour ?? 0) % 24,
    minute: out.minute ?? 0,
    second: out.second ?? 0,
  };
}

export function isValidZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export function allZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  const zones = intl.supportedValuesOf ? intl.supportedValuesOf("timeZone") : [];
  return zones.includes("UTC") ? zones : ["UTC", ...zones];
}

/** Minutes east of UTC of the zone at that instant. */
export function offsetMinutes(instant: Date, tz: string): number {
  const f = wallFields(instant, tz);
  const asUtc = Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second);
  const whole = Math.floor(instant.getTime() / 1000) * 1000;
  return Math.round((asUtc - whole) / 60000);
}

const pad = (n: number, w = 2): string => String(Math.abs(n)).padStart(w, "0");

function parseWall(date: string, time: string): Fields {
  const [y, mo, d] = date.split("-").map(Number);
  const [h, mi, s] = (time || "00:00").split(":").map(Number);
  return { year: y ?? 1970, month: mo ?? 1, day: d ?? 1, hour: h ?? 0, minute: mi ?? 0, second: s ?? 0 };
}

/**
 * The instant a wall-clock time names in a zone. In a DST gap (02:30 that never happens) the
 * time moves forward by the gap; in an overlap the earlier instant wins.
 */
export function wallToInstant(date: string, time: string, tz: string): Date {
  const f = parseWall(date, time);
  const guess = Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second);
  // the offsets in force around that wall time (a transition lies between them, if any)
  const before = offsetMinutes(new Date(guess - 14 * 3600000), tz);
  const after = offsetMinutes(new Date(guess + 14 * 3600000), tz);
  const same = (t: number): boolean => {
    const w = wallFields(new Date(t), tz);
    return w.year === f.year && w.month === f.month && w.day === f.day && w.hour === f.hour && w.minute === f.minute && w.second === f.second;
  };
  const valid = [...new Set([before, after])].map((o) => guess - o * 60000).filter(same);
  if (valid.length) return new Date(Math.min(...valid)); // in an overlap the earlier instant
  return new Date(guess - before * 60000); // in a gap: the old offset, i.e. later by the gap
}

export function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? "-" : "+";
  return `${sign}${pad(Math.trunc(minutes / 60))}:${pad(minutes % 60)}`;
}

/** RFC 3339 with the zone's offset at that instant, e.g. 2026-12-04T17:00:00+01:00. */
export function toRfc3339(instant: Date, tz: string): string {
  const f = wallFields(instant, tz);
  const off = offsetMinutes(instant, tz);
  return `${pad(f.year, 4)}-${pad(f.month)}-${pad(f.day)}T${pad(f.hour)}:${pad(f.minute)}:${pad(f.second)}${formatOffset(off)}`;
}

export function wallToRfc3339(date: string, time: string, tz: string): string {
  return toRfc3339(wallToInstant(date, time, tz), tz);
}

/** The wall-clock date and time (HH:MM, or HH:MM:SS when seconds are set) of an instant in a zone. */
export function instantToWall(instant: Date | string, tz: string): Wall {
  const d = typeof instant === "string" ? new Date(instant) : instant;
  const f = wallFields(d, tz);
  const time = f.second ? `${pad(f.hour)}:${pad(f.minute)}:${pad(f.second)}` : `${pad(f.hour)}:${pad(f.minute)}`;
  return { date: `${pad(f.year, 4)}-${pad(f.month)}-${pad(f.day)}`, time };
}

/** YYYY-MM-DD plus n days (calendar arithmetic, no zone). */
export function addDays(date: string, n: number): string {
  const f = parseWall(date, "00:00");
  const d = new Date(Date.UTC(f.year, f.month - 1, f.day + n));
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** Today's date in the zone. */
export function today(tz: string, now: Date = new Date()): string {
  return instantToWall(now, tz).date;
}

/** The instant local midnight starts a day (today + n) in the zone, as RFC 3339. */
export function startOfDay(tz: string, plusDays = 0, now: Date = new Date()): string {
  return wallToRfc3339(addDays(today(tz, now), plusDays), "00:00", tz);
}

/** Weekday of a date, 0 = Monday ... 6 = Sunday. */
export function weekdayOf(date: string): number {
  const f = parseWall(date, "00:00");
  return (new Date(Date.UTC(f.year, f.month - 1, f.day)).getUTCDay() + 6) % 7;
}

function dayLabel(date: string, tz: string, now: Date): string {
  const t = today(tz, now);
  if (date === t) return "Today";
  if (date === addDays(t, 1)) return "Tomorrow";
  if (date === addDays(t, -1)) return "Yesterday";
  const f = parseWall(date, "00:00");
  const d = new Date(Date.UTC(f.year, f.month - 1, f.day, 12));
  const sameYear = date.slice(0, 4) === t.slice(0, 4);
  return new Intl.DateTimeFormat("en-GB", {
    timeZone: "UTC",
    weekday: "short",
    day: "numeric",
    month: "short",
    ...(sameYear ? {} : { year: "numeric" }),
  }).format(d);
}

/** "Today 17:00", "Tomorrow", "Fri 4 Dec 09:30", shown in the viewer's zone (all-day tasks keep their date). */
export function formatDue(dueAt: string, allDay: boolean, taskZone: string, viewerZone: string, now = new Date()): string {
  if (allDay) return dayLabel(instantToWall(dueAt, taskZone).date, viewerZone, now);
  const w = instantToWall(dueAt, viewerZone);
  return `${dayLabel(w.date, viewerZone, now)} ${w.time.slice(0, 5)}`;
}

export function formatInstant(iso: string, tz: string, now = new Date()): string {
  const w = instantToWall(iso, tz);
  return `${dayLabel(w.date, tz, now)} ${w.time.slice(0, 5)}`;
}

export function isOverdue(dueAt: string | null, allDay: boolean, taskZone: string, now = new Date()): boolean {
  if (!dueAt) return false;
  if (allDay) return instantToWall(dueAt, taskZone).date < today(taskZone, now);
  return new Date(dueAt).getTime() < now.getTime();
}
