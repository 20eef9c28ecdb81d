// The recurrence builder's model and its RFC 5545 RRULE, both ways, plus a description in words.

export const WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"] as const;
export type Weekday = (typeof WEEKDAYS)[number];
export const WEEKDAY_NAMES: Record<Weekday, string> = {
  MO: "Monday",
  TU: "Tuesday",
  WE: "Wednesday",
  TH: "Thursday",
  FR: "Friday",
  SA: "Saturday",
  SU: "Sunday",
};

export type Freq = "none" | "daily" | "weekly" | "monthly" | "yearly" | "custom";
export type MonthlyMode = "day" | "nth" | "last";

export interface RecurrenceModel {
  freq: Freq;
  interval: number;
  /** weekly: the days it repeats on */
  days: Weekday[];
  monthlyMode: MonthlyMode;
  /** monthly "day": 1..31 */
  monthDay: number;
  /** monthly "nth": 1..4, or -1 for the last */
  nth: number;
  nthWeekday: Weekday;
  /** stop after this many times (COUNT); null: never */
  count: number | null;
  /** the custom RRULE text */
  custom: string;
}

export function defaultModel(freq: Freq = "none", dueDate?: string): RecurrenceModel {
  const day = dueDate ? Number(dueDate.slice(8, 10)) || 1 : 1;
  const wd = dueDate ? weekdayFromDate(dueDate) : "MO";
  const nth = Math.min(4, Math.floor((day - 1) / 7) + 1);
  return {
    freq,
    interval: 1,
    days: [wd],
    monthlyMode: "day",
    monthDay: day,
    nth,
    nthWeekday: wd,
    count: null,
    custom: "",
  };
}

function weekdayFromDate(date: string): Weekday {
  const [y, m, d] = date.split("-").map(Number);
  const js = new Date(Date.UTC(y ?? 1970, (m ?? 1) - 1, d ?? 1)).getUTCDay(); // 0 = Sunday
  return WEEKDAYS[(js + 6) % 7] ?? "MO";
}

function parts(rrule: string): Map<string, string> | null {
  const text = rrule.trim().replace(/^RRULE:/i, "");
  if (!text) return null;
  const map = new Map<string, string>();
  for (const piece of text.split(";")) {
    if (!piece) continue;
    const eq = piece.indexOf("=");
    if (eq <= 0) return null;
    const key = piece.slice(0, eq).trim().toUpperCase();
    if (map.has(key)) return null;
    map.set(key, piece.slice(eq + 1).trim().toUpperCase());
  }
  return map;
}

const KNOWN_KEYS = new Set([
  "FREQ",
  "INTERVAL",
  "COUNT",
  "UNTIL",
  "BYDAY",
  "BYMONTHDAY",
  "BYMONTH",
  "BYSETPOS",
  "BYYEARDAY",
  "BYWEEKNO",
  "BYHOUR",
  "BYMINUTE",
  "BYSECOND",
  "WKST",
]);
const FREQS = new Set(["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"]);

/** A problem with a custom RRULE the user typed, or null when it looks well-formed (the server has the last word). */
export function validateRRule(rrule: string): string | null {
  const p = parts(rrule);
  if (!p) return "Write it as KEY=VALUE pairs separated by ';', e.g. FREQ=WEEKLY;BYDAY=MO,WE";
  const freq = p.get("FREQ");
  if (!freq) return "FREQ is required (DAILY, WEEKLY, MONTHLY or YEARLY)";
  if (!FREQS.has(freq)) return `Unknown FREQ ${freq}`;
  for (const key of p.keys()) if (!KNOWN_KEYS.has(key)) return `Unknown part ${key}`;
  for (const key of ["INTERVAL", "COUNT"]) {
    const v = p.get(key);
    if (v !== undefined && !/^[1-9]\d*$/.test(v)) return `${key} must be a positive whole number`;
  }
  if (p.has("COUNT") && p.has("UNTIL")) return "Use COUNT or UNTIL, not both";
  const byday = p.get("BYDAY");
  if (byday !== undefined && !byday.split(",").every((d) => /^[+-]?\d{0,2}(MO|TU|WE|TH|FR|SA|SU)$/.test(d)))
    return "BYDAY takes days like MO,WE or 1MO, -1FR";
  return null;
}

/** The RRULE of the model, or null for "does not repeat" (or an empty custom rule). */
export function toRRule(m: RecurrenceModel): string | null {
  if (m.freq === "none") return null;
  if (m.freq === "custom") {
    const t = m.custom.trim().replace(/^RRULE:/i, "");
    return t ? t.toUpperCase() : null;
  }
  const out: string[] = [`FREQ=${m.freq.toUpperCase()}`];
  if (m.interval > 1) out.push(`INTERVAL=${m.interval}`);
  if (m.freq === "weekly" && m.days.length) {
    const days = WEEKDAYS.filter((d) => m.days.includes(d));
    out.push(`BYDAY=${days.join(",")}`);
  }
  if (m.freq === "monthly") {
    if (m.monthlyMode === "day") out.push(`BYMONTHDAY=${m.monthDay}`);
    else if (m.monthlyMode === "last") out.push("BYMONTHDAY=-1");
    else out.push(`BYDAY=${m.nth}${m.nthWeekday}`);
  }
  if (m.count) out.push(`COUNT=${m.count}`);
  return out.join(";");
}

/** The builder model of an RRULE; rules the builder cannot show come back as "custom". */
export function fromRRule(rrule: string | null | undefined, dueDate?: string): RecurrenceModel {
  if (!rrule) return defaultModel("none", dueDate);
  const custom = { ...defaultModel("custom", dueDate), custom: rrule };
  const p = parts(rrule);
  if (!p || validateRRule(rrule)) return custom;
  const freq = p.get("FREQ");
  const interval = Number(p.get("INTERVAL") ?? "1");
  const count = p.has("COUNT") ? Number(p.get("COUNT")) : null;
  const allowed = new Set(["FREQ", "INTERVAL", "COUNT"]);
  const extra = [...p.keys()].filter((k) => !allowed.has(k));
  const base = { ...defaultModel("none", dueDate), interval, count };
  if (freq === "DAILY" && extra.length === 0) return { ...base, freq: "daily" };
  if (freq === "YEARLY" && extra.length === 0) return { ...base, freq: "yearly" };
  if (freq === "WEEKLY" && extra.every((k) => k === "BYDAY")) {
    const days = (p.get("BYDAY") ?? "").split(",").filter(Boolean);
    if (days.every((d): d is Weekday => (WEEKDAYS as readonly string[]).includes(d)))
      return { ...base, freq: "weekly", days: days.length ? days : base.days };
    return custom;
  }
  if (freq === "MONTHLY" && extra.length === 1) {
    const md = p.get("BYMONTHDAY");
    if (md === "-1") return { ...base, freq: "monthly", monthlyMode: "last" };
    if (md !== undefined && /^\d+$/.test(md) && Number(md) >= 1 && Number(md) <= 31)
      return { ...base, freq: "monthly", monthlyMode: "day", monthDay: Number(md) };
    const bd = p.get("BYDAY");
    const match = bd?.match(/^([+-]?\d)(MO|TU|WE|TH|FR|SA|SU)$/);
    if (match) {
      const nth = Number(match[1]);
      if ((nth >= 1 && nth <= 4) || nth === -1)
        return { ...base, freq: "monthly", monthlyMode: "nth", nth, nthWeekday: match[2] as Weekday };
    }
  }
  return custom;
}

const ORDINAL: Record<string, string> = { "1": "first", "2": "second", "3": "third", "4": "fourth", "-1": "last" };
const SHORT: Record<Weekday, string> = { MO: "Mon", TU: "Tue", WE: "Wed", TH: "Thu", FR: "Fri", SA: "Sat", SU: "Sun" };

function every(n: number, unit: string): string {
  return n > 1 ? `Every ${n} ${unit}s` : `Every ${unit}`;
}

function ordinalDay(n: number): string {
  const s = n % 100 >= 11 && n % 100 <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ?? "th";
  return `${n}${s}`;
}

/** "Every 2 weeks on Mon, Wed", "Every month on the last day", ... */
export function describe(m: RecurrenceModel): string {
  let text: string;
  switch (m.freq) {
    case "none":
      return "Does not repeat";
    case "custom":
      return m.custom.trim() ? `Custom: ${m.custom.trim().toUpperCase()}` : "Custom rule";
    case "daily":
      text = every(m.interval, "day");
      break;
    case "weekly": {
      const days = WEEKDAYS.filter((d) => m.days.includes(d));
      const weekdays = days.length === 5 && !days.includes("SA") && !days.includes("SU");
      text = `${every(m.interval, "week")} on ${weekdays ? "weekdays" : days.map((d) => SHORT[d]).join(", ")}`;
      break;
    }
    case "monthly":
      text =
        m.monthlyMode === "last"
          ? `${every(m.interval, "month")} on the last day`
          : m.monthlyMode === "day"
            ? `${every(m.interval, "month")} on the ${ordinalDay(m.monthDay)}`
            : `${every(m.interval, "month")} on the ${ORDINAL[String(m.nth)] ?? m.nth} ${WEEKDAY_NAMES[m.nthWeekday]}`;
      break;
    case "yearly":
      text = every(m.interval, "year");
      break;
  }
  return m.count ? `${text}, ${m.count} times` : text;
}

/** Words for an RRULE shown in the list ("Every week on Mon"), falling back to the rule itself. */
export function describeRRule(rrule: string): string {
  return describe(fromRRule(rrule));
}
