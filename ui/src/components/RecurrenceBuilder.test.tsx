import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import { type RecurrenceModel, fromRRule, toRRule } from "@/lib/rrule";
import type { Anchor } from "@/lib/types";
import { RecurrenceBuilder } from "./RecurrenceBuilder";

function Harness({ initial = null, dueDate = "2026-11-25" }: { initial?: string | null; dueDate?: string | null }) {
  const [m, setM] = useState<RecurrenceModel>(fromRRule(initial, dueDate ?? undefined));
  const [anchor, setAnchor] = useState<Anchor>("schedule");
  return (
    <>
      <RecurrenceBuilder value={m} onChange={setM} anchor={anchor} onAnchorChange={setAnchor} dueDate={dueDate} />
      <output data-testid="rule">{`${toRRule(m) ?? "none"}|${anchor}`}</output>
    </>
  );
}

const rule = () => screen.getByTestId("rule").textContent;

describe("RecurrenceBuilder", () => {
  it("builds weekly on chosen days every n weeks, from completion", async () => {
    const user = userEvent.setup();
    render(<Harness />); // due on a Wednesday
    expect(rule()).toBe("none|schedule");
    await user.selectOptions(screen.getByLabelText("Repeats"), "weekly");
    expect(rule()).toBe("FREQ=WEEKLY;BYDAY=WE|schedule");
    await user.click(screen.getByRole("checkbox", { name: "Monday" }));
    await user.click(screen.getByRole("checkbox", { name: "Friday" }));
    await user.clear(screen.getByLabelText("Every"));
    await user.type(screen.getByLabelText("Every"), "2");
    await user.click(screen.getByRole("checkbox", { name: "Count from when I complete it" }));
    expect(rule()).toBe("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,FR|completion");
    expect(screen.getByText(/Every 2 weeks on Mon, Wed, Fri, after completion/)).toBeInTheDocument();
    // the last day cannot be unticked: a weekly rule needs one
    for (const d of ["Monday", "Wednesday", "Friday"]) await user.click(screen.getByRole("checkbox", { name: d }));
    expect(rule()).toMatch(/^FREQ=WEEKLY;INTERVAL=2;BYDAY=FR\|/);
  });

  it("builds monthly on a day, on an nth weekday and on the last day", async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.selectOptions(screen.getByLabelText("Repeats"), "monthly");
    expect(rule()).toBe("FREQ=MONTHLY;BYMONTHDAY=25|schedule");
    await user.clear(screen.getByLabelText("Day (1–31)"));
    await user.type(screen.getByLabelText("Day (1–31)"), "31");
    expect(rule()).toBe("FREQ=MONTHLY;BYMONTHDAY=31|schedule");
    await user.click(screen.getByRole("radio", { name: "A weekday of the month" }));
    expect(rule()).toBe("FREQ=MONTHLY;BYDAY=4WE|schedule"); // the 25th is the 4th Wednesday
    await user.selectOptions(screen.getByLabelText("Which week"), "-1");
    await user.selectOptions(screen.getByLabelText("Weekday", { exact: true }), "FR");
    expect(rule()).toBe("FREQ=MONTHLY;BYDAY=-1FR|schedule");
    expect(screen.getByText(/Every month on the last Friday/)).toBeInTheDocument();
    await user.click(screen.getByRole("radio", { name: "The last day of the month" }));
    expect(rule()).toBe("FREQ=MONTHLY;BYMONTHDAY=-1|schedule");
  });

  it("daily with an end, a custom RRULE with validation, and back to none", async () => {
    const user = userEvent.setup();
    render(<Harness />);
    await user.selectOptions(screen.getByLabelText("Repeats"), "daily");
    await user.selectOptions(screen.getByLabelText("Ends"), "count");
    await user.clear(screen.getByLabelText("Number of times"));
    await user.type(screen.getByLabelText("Number of times"), "5");
    expect(rule()).toBe("FREQ=DAILY;COUNT=5|schedule");
    await user.selectOptions(screen.getByLabelText("Repeats"), "custom");
    const input = screen.getByLabelText("RRULE (RFC 5545)");
    expect(input).toHaveValue("FREQ=DAILY;COUNT=5"); // starts from what was built
    await user.clear(input);
    await user.type(input, "FREQ=FORTNIGHTLY");
    expect(screen.getByText(/Unknown FREQ FORTNIGHTLY/)).toBeInTheDocument();
    expect(input).toHaveAttribute("aria-invalid", "true");
    await user.clear(input);
    await user.type(input, "freq=monthly;byday=mo,tu,we,th,fr;bysetpos=-1");
    expect(rule()).toBe("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1|schedule");
    await user.selectOptions(screen.getByLabelText("Repeats"), "none");
    expect(rule()).toBe("none|schedule");
  });

  it("opens an existing rule in the matching mode and warns without a due date", () => {
    render(<Harness initial="FREQ=MONTHLY;BYDAY=3FR" dueDate={null} />);
    expect(screen.getByLabelText("Repeats")).toHaveValue("monthly");
    expect(screen.getByRole("radio", { name: "A weekday of the month" })).toBeChecked();
    expect(screen.getByLabelText("Which week")).toHaveValue("3");
    expect(screen.getByText("A repeating task needs a due date.")).toBeInTheDocument();
  });
});
