import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Draft } from "@/lib/types";
import { QuickAdd } from "./QuickAdd";

const TEXT = "pay rent every month on the 1st at 9am #home p1 remind me 1 day before";
const draft: Draft = {
  title: "pay rent",
  due_at: "2026-12-01T09:00:00+01:00",
  all_day: false,
  timezone: "Europe/Berlin",
  priority: "high",
  tags: ["home"],
  recurrence: { rrule: "FREQ=MONTHLY;BYMONTHDAY=1", anchor: "schedule", description: "every month on the 1st" },
  reminders: [{ offset_minutes: 1440 }],
  recognised: [
    { kind: "recurrence", text: "every month on the 1st", start: 9, end: 31 },
    { kind: "time", text: "at 9am", start: 32, end: 38 },
    { kind: "tag", text: "#home", start: 39, end: 44 },
    { kind: "priority", text: "p1", start: 45, end: 47 },
    { kind: "reminder", text: "remind me 1 day before", start: 48, end: 70 },
  ],
  notes: [],
  task: {
    title: "pay rent",
    timezone: "Europe/Berlin",
    priority: "high",
    tags: ["home"],
    due_at: "2026-12-01T09:00:00+01:00",
    all_day: false,
    recurrence: { rrule: "FREQ=MONTHLY;BYMONTHDAY=1", anchor: "schedule" },
    reminders: [{ offset_minutes: 1440 }],
  },
};

function setup(parse = vi.fn(async (_t: string, _s: AbortSignal) => draft)) {
  const onCreate = vi.fn(async () => {});
  render(<QuickAdd timezone="Europe/Berlin" parse={parse} onCreate={onCreate} debounceMs={20} />);
  return { user: userEvent.setup(), parse, onCreate, input: screen.getByLabelText("Quick add a task") };
}

// The preview labels the due day relative to today ("Today", "Tomorrow", "Tue 1 Dec"): the clock of the
// code under test is fixed (only Date is faked; timers stay real for user-event and the debounce).
const NOW = new Date("2026-11-25T10:00:00Z");

describe("QuickAdd", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(NOW);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("previews what the parser recognised before saving", async () => {
    const { user, parse, input } = setup();
    await user.type(input, TEXT);
    const preview = screen.getByTestId("quick-add-preview");
    const chips = await within(preview).findByRole("list", { name: "Will be saved as" });
    expect(parse).toHaveBeenLastCalledWith(TEXT, expect.any(AbortSignal));
    expect(parse.mock.calls.length).toBeLessThan(TEXT.length); // debounced, not once per key
    const items = within(chips)
      .getAllByRole("listitem")
      .map((li) => li.textContent);
    expect(items).toEqual([
      "Title pay rent",
      "Due Tue 1 Dec 09:00",
      "Priority high",
      "#home",
      "Repeats every month on the 1st",
      "Reminder 1 day before",
    ]);
    const marks = preview.querySelectorAll("mark");
    expect([...marks].map((m) => m.textContent)).toEqual(["every month on the 1st", "at 9am", "#home", "p1", "remind me 1 day before"]);
    expect(preview).toHaveAttribute("role", "status"); // announced to screen readers
  });

  it("creates the task from the draft on Enter and clears", async () => {
    const { user, onCreate, input } = setup();
    await user.type(input, TEXT);
    await screen.findByRole("list", { name: "Will be saved as" });
    await user.keyboard("{Enter}");
    await waitFor(() => expect(onCreate).toHaveBeenCalledWith(draft.task, draft));
    expect(input).toHaveValue("");
    expect(screen.queryByRole("list", { name: "Will be saved as" })).not.toBeInTheDocument();
  });

  it("refuses a sentence without a title, and Escape clears", async () => {
    const parse = vi.fn(async () => ({ ...draft, title: "", task: { ...draft.task, title: "" } }));
    const { user, onCreate, input } = setup(parse);
    await user.type(input, "tomorrow 5pm");
    await screen.findByText(/\(empty\)/);
    await user.keyboard("{Enter}");
    expect(await screen.findByText("Add a few words for the title.")).toBeInTheDocument();
    expect(onCreate).not.toHaveBeenCalled();
    await user.keyboard("{Escape}");
    expect(input).toHaveValue("");
  });

  it("shows a parse error instead of a preview", async () => {
    const parse = vi.fn(async () => {
      throw new Error("text: must not be empty");
    });
    const { user, input } = setup(parse);
    await user.type(input, "x");
    expect(await screen.findByText("text: must not be empty")).toBeInTheDocument();
  });
});
