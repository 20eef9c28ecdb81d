import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "@/lib/api";
import type { Task, TaskWrite } from "@/lib/types";
import { TaskEditor } from "./TaskEditor";

const base: Task = {
  id: "t1",
  title: "Write report",
  description: "",
  status: "open",
  priority: "none",
  tags: ["work"],
  due_at: "2026-12-04T17:00:00+01:00",
  all_day: false,
  timezone: "Europe/Berlin",
  recurrence: null,
  series_id: null,
  occurrence: 1,
  next_due_at: null,
  reminders: [{ id: "r1", offset_minutes: 30, at: null, fire_at: "2026-12-04T16:30:00+01:00", status: "pending" }],
  created_at: "2026-11-25T10:00:00Z",
  updated_at: "2026-11-25T10:00:00Z",
  completed_at: null,
  version: 3,
};

function setup(task: Task | null = base, onSave = vi.fn(async (_b: TaskWrite, _t: Task | null) => {})) {
  const onReminderAdded = vi.fn();
  const onCancel = vi.fn();
  render(
    <TaskEditor
      task={task}
      userZone="Europe/Berlin"
      tagSuggestions={["work", "home", "health"]}
      onSave={onSave}
      onCancel={onCancel}
      onReminderAdded={onReminderAdded}
    />,
  );
  return { user: userEvent.setup(), onSave, onReminderAdded, onCancel };
}

describe("TaskEditor", () => {
  it("shows the task's fields in its zone", () => {
    setup();
    expect(screen.getByLabelText("Title")).toHaveValue("Write report");
    expect(screen.getByLabelText("Date", { exact: true })).toHaveValue("2026-12-04");
    expect(screen.getByLabelText("Time", { exact: true })).toHaveValue("17:00");
    expect(screen.getByLabelText("Time zone")).toHaveValue("Europe/Berlin");
    expect(screen.getByRole("radio", { name: "None" })).toBeChecked();
    expect(screen.getByLabelText("Reminder 1 amount")).toHaveValue(30);
    expect(screen.getByLabelText("Title")).toHaveFocus();
  });

  it("saves only what changed, every field at once", async () => {
    const { user, onSave, onReminderAdded } = setup();
    await user.clear(screen.getByLabelText("Title"));
    await user.type(screen.getByLabelText("Title"), "Write the Q4 report");
    await user.type(screen.getByLabelText("Description"), "With numbers");
    await user.click(screen.getByRole("radio", { name: "High" }));
    const tags = screen.getByRole("combobox", { name: "Tags" });
    await user.type(tags, "he");
    expect(screen.getByRole("option", { name: "#health" })).toBeInTheDocument();
    await user.keyboard("{Enter}");
    await user.click(screen.getByRole("button", { name: "Remove tag work" }));
    await user.selectOptions(screen.getByLabelText("Time zone"), "America/New_York"); // same instant, new wall time
    expect(screen.getByLabelText("Time", { exact: true })).toHaveValue("11:00");
    await user.clear(screen.getByLabelText("Time", { exact: true }));
    await user.type(screen.getByLabelText("Time", { exact: true }), "09:15");
    await user.selectOptions(screen.getByLabelText("Repeats"), "weekly");
    await user.selectOptions(screen.getByLabelText("Reminder 1 unit"), "hours");
    await user.click(screen.getByRole("button", { name: "Add reminder" }));
    expect(onReminderAdded).toHaveBeenCalledTimes(1);
    await user.selectOptions(screen.getByLabelText("Reminder 2 type"), "at");
    await user.clear(screen.getByLabelText(/^Reminder 2 time/));
    await user.type(screen.getByLabelText(/^Reminder 2 time/), "2026-12-03T20:00");
    await user.click(screen.getByRole("button", { name: "Save" }));

    expect(onSave).toHaveBeenCalledTimes(1);
    const [body, task] = onSave.mock.calls[0]!;
    expect(task?.id).toBe("t1");
    expect(body).toEqual({
      title: "Write the Q4 report",
      description: "With numbers",
      priority: "high",
      tags: ["health"],
      due_at: "2026-12-04T09:15:00-05:00",
      all_day: false,
      timezone: "America/New_York",
      recurrence: { rrule: "FREQ=WEEKLY;BYDAY=FR", anchor: "schedule" },
      reminders: [{ offset_minutes: 1800 }, { at: "2026-12-03T20:00:00-05:00" }],
    });
  });

  it("sends nothing for no change, and an all-day date as a bare date", async () => {
    const { user, onSave, onCancel } = setup();
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(onSave).not.toHaveBeenCalled();
    expect(onCancel).toHaveBeenCalled();
    await user.click(screen.getByRole("checkbox", { name: "All day" }));
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(onSave.mock.calls[0]![0]).toEqual({ due_at: "2026-12-04", all_day: true });
  });

  it("checks the form before saving and shows the server's refusal", async () => {
    const onSave = vi.fn(async () => {
      throw new ApiError(422, "validation_error", "recurrence: bad rule", [{ field: "recurrence", message: "bad rule" }]);
    });
    const { user } = setup({ ...base, due_at: null, reminders: [] }, onSave);
    await user.clear(screen.getByLabelText("Title"));
    await user.selectOptions(screen.getByLabelText("Repeats"), "daily");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(onSave).not.toHaveBeenCalled();
    expect(screen.getByText("A task needs a title.")).toBeInTheDocument();
    expect(screen.getAllByText("A repeating task needs a due date.").length).toBeGreaterThan(0);
    expect(screen.getByLabelText("Title")).toHaveFocus();

    await user.type(screen.getByLabelText("Title"), "Stretch");
    await user.click(screen.getByRole("checkbox", { name: "Has a due date" }));
    await user.type(screen.getByLabelText("Date", { exact: true }), "2026-12-01");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(onSave).toHaveBeenCalledTimes(1);
    expect(screen.getByText("recurrence: bad rule")).toBeInTheDocument();
    expect(screen.getByText("bad rule")).toBeInTheDocument();
  });

  it("creates a new task with the full body", async () => {
    const { user, onSave } = setup(null);
    expect(screen.getByRole("heading", { name: "New task" })).toBeInTheDocument();
    await user.type(screen.getByLabelText("Title"), "Call mum");
    await user.click(screen.getByRole("button", { name: "Add task" }));
    expect(onSave.mock.calls[0]).toEqual([
      { title: "Call mum", description: "", priority: "none", tags: [], due_at: null, all_day: false, timezone: "Europe/Berlin", recurrence: null, reminders: [] },
      null,
    ]);
  });
});
