import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { describe, expect, it, vi } from "vitest";
import { EMPTY_FILTERS, type Filters, buildTaskQuery } from "@/lib/query";
import { FilterBar } from "./FilterBar";

const tags = [
  { name: "home", count: 3, open_count: 2 },
  { name: "work", count: 5, open_count: 4 },
];

function Harness({ onChange }: { onChange: (f: Filters) => void }) {
  const [f, setF] = useState<Filters>(EMPTY_FILTERS);
  return (
    <>
      <FilterBar
        view="all"
        filters={f}
        tags={tags}
        debounceMs={300}
        onChange={(n) => {
          setF(n);
          onChange(n);
        }}
      />
      <output data-testid="query">{buildTaskQuery("all", f, "Europe/Berlin", new Date("2026-11-25T10:00:00Z")).toString()}</output>
    </>
  );
}

const query = () => new URLSearchParams(screen.getByTestId("query").textContent ?? "");

describe("FilterBar", () => {
  it("searches once typing pauses", async () => {
    const onChange = vi.fn();
    const user = userEvent.setup();
    render(<Harness onChange={onChange} />);
    await user.type(screen.getByLabelText("Search tasks"), "report");
    expect(onChange).not.toHaveBeenCalled(); // not once per key
    await waitFor(() => expect(onChange).toHaveBeenCalledTimes(1));
    expect(onChange.mock.calls[0]![0].q).toBe("report");
    expect(query().get("q")).toBe("report");
    await new Promise((r) => setTimeout(r, 400));
    expect(onChange).toHaveBeenCalledTimes(1);
  });

  it("filters by status, priority, tags, due range, overdue and no date; sorts; clears", async () => {
    const user = userEvent.setup();
    render(<Harness onChange={() => {}} />);
    const toggle = screen.getByRole("button", { name: "Filters" });
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    await user.click(toggle);
    expect(toggle).toHaveAttribute("aria-expanded", "true");
    const panel = screen.getByRole("group", { name: "Filters" });
    expect(panel).toBeVisible();

    await user.selectOptions(screen.getByLabelText("Status"), "all");
    await user.click(screen.getByRole("checkbox", { name: "High" }));
    await user.click(screen.getByRole("checkbox", { name: "Medium" }));
    await user.click(screen.getByRole("checkbox", { name: /#home/ }));
    await user.click(screen.getByRole("checkbox", { name: /#work/ }));
    await user.selectOptions(screen.getByLabelText("Match"), "all");
    await user.type(screen.getByLabelText("From"), "2026-12-01");
    await user.type(screen.getByLabelText("To"), "2026-12-07");
    await user.selectOptions(screen.getByLabelText("Sort"), "title");
    let q = query();
    expect(q.get("status")).toBe("all");
    expect(q.get("priority")).toBe("high,medium");
    expect(q.getAll("tag")).toEqual(["home", "work"]);
    expect(q.get("tag_mode")).toBe("all");
    expect(q.get("due_after")).toBe("2026-12-01T00:00:00+01:00");
    expect(q.get("due_before")).toBe("2026-12-08T00:00:00+01:00");
    expect(q.get("sort")).toBe("title");
    expect(screen.getByRole("button", { name: "Filters (4)" })).toBeInTheDocument();

    // overdue and "no date" exclude each other
    await user.click(screen.getByRole("checkbox", { name: "Overdue only" }));
    expect(query().get("overdue")).toBe("true");
    await user.click(screen.getByRole("checkbox", { name: "No due date" }));
    q = query();
    expect(q.get("has_due")).toBe("false");
    expect(q.get("overdue")).toBeNull();
    expect(screen.getByRole("checkbox", { name: "Overdue only" })).not.toBeChecked();

    await user.click(screen.getByRole("button", { name: "Clear filters" }));
    q = query();
    expect(q.get("status")).toBe("open");
    expect(q.get("priority")).toBeNull();
    expect(q.getAll("tag")).toEqual([]);
    expect(q.get("has_due")).toBeNull();
    expect(q.get("sort")).toBe("title"); // the sort stays
  });
});
