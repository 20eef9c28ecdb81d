// The web UI end to end, in headless Debian Chromium against the running system (see harness.mjs).
// One user goes through the product in order: register, quick add, edit every field, search/filter/
// sort, recurring completion, a reminder notification, two tabs in sync, chat, undo, phone width.

import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { ZONE, apiCall, dayOfMonthAhead, launchBrowser, newContext, screenshot, startSystem, waitFor, wallIn, zonedInstant } from "./harness.mjs";

// Dates derived from the real clock, never written: the editor's task is due on the 5th three months
// ahead, "Book flights" on the 15th two months ahead (its due-range filter spans the 14th-16th, so no
// "last day of the month" task nor the editor's task can ever fall into it, whatever today is).
const EDIT_DAY = dayOfMonthAhead("America/New_York", 3, 5);
const FLIGHT_DAY = dayOfMonthAhead(ZONE, 2, 15);

let system;
let browser;
let main; // {context, notifications, errors}
let page;
const allErrors = [];
const email = `ada-${Date.now()}@example.com`;
const password = "a long password";

const nav = () => page.getByRole("navigation", { name: "Views" });
const row = (p, title) => p.locator("li.task", { has: p.getByRole("button", { name: `Edit “${title}”`, exact: true }) });
const editor = (p = page) => p.getByRole("dialog");

async function showAll(p = page) {
  await p.getByRole("navigation", { name: "Views" }).getByRole("button", { name: "All", exact: true }).click();
  await p.getByRole("heading", { level: 1, name: "All" }).waitFor();
}

async function quickAdd(p, text) {
  const input = p.getByLabel("Quick add a task");
  await input.fill(text);
  await p.getByTestId("quick-add-preview").locator(".pchip.title").waitFor();
  await input.press("Enter");
  await p.locator(".toast", { hasText: "Added" }).first().waitFor();
  await waitFor(async () => (await input.inputValue()) === "", { message: "quick add to clear" });
}

async function taskByTitle(title) {
  const r = await apiCall(page, "GET", `/api/v1/tasks?status=all&limit=200&q=${encodeURIComponent(title)}`);
  return r.body.items.find((t) => t.title === title);
}

describe("Todo Cloud web UI", { timeout: 600_000 }, () => {
  before(async () => {
    system = await startSystem();
    browser = await launchBrowser();
    main = await newContext(browser, system.url, { grant: false });
    main.context.setDefaultTimeout(30_000); // a loaded 2-core machine is slow: conditions, generous limits
    page = await main.context.newPage();
  });

  // a failed test leaves no dialog open for the next one
  afterEach(async () => {
    for (let i = 0; i < 3 && (await page.locator("dialog[open]").count()) > 0; i++) await page.keyboard.press("Escape");
  });

  after(async () => {
    await browser?.close();
    await system?.stop();
  });

  test("register, sign out and sign in again; permission is not asked on load", async () => {
    await page.goto("/");
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await screenshot(page, "01-sign-in");
    await page.getByRole("button", { name: "Create an account" }).click();
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("heading", { level: 1, name: /^Today/ }).waitFor();
    const me = await apiCall(page, "GET", "/api/v1/me");
    assert.equal(me.body.email, email);
    assert.equal(me.body.timezone, ZONE, "registered with the browser's zone");

    await page.getByRole("button", { name: "Settings" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { level: 1, name: /^Today/ }).waitFor();
    await page.locator(".live-live").waitFor(); // the realtime stream is connected
    assert.equal(await page.evaluate(() => window.__permissionRequests ?? 0), 0, "no permission prompt on load");
  });

  test("a wrong password is refused with a message", async () => {
    // its own context: the browser logs the 401 response as a console error, which is expected here only
    const other = await newContext(browser, system.url);
    const p = await other.context.newPage();
    await p.goto("/");
    await p.getByLabel("Email").fill(email);
    await p.getByLabel("Password").fill("wrong password!");
    await p.getByRole("button", { name: "Sign in", exact: true }).click();
    assert.match(await p.locator(".form-error").innerText(), /password|credentials|invalid/i);
    assert.ok(other.errors.every((e) => e.includes("401")), other.errors.join("\n"));
    await other.context.close();
  });

  test("quick add in natural language shows the parsed draft before saving", async () => {
    const input = page.getByLabel("Quick add a task");
    await input.fill("pay rent every month on the last day at 9am #home high priority remind me 1 day before");
    const preview = page.getByTestId("quick-add-preview");
    await preview.locator(".pchip.recur").waitFor();
    const chips = await preview.locator(".pchip").allInnerTexts();
    const text = chips.join(" | ");
    assert.match(text, /Title\s+pay rent/);
    assert.match(text, /Due\s+.+09:00/);
    assert.match(text, /Priority\s+high/);
    assert.match(text, /#home/);
    assert.match(text, /Repeats\s+every month on the last day/);
    assert.match(text, /Reminder\s+1 day before/);
    assert.ok((await preview.locator("mark.rec").count()) >= 4, "recognised phrases are marked in the text");
    await screenshot(page, "02-quick-add-preview");
    await input.press("Enter");
    await page.locator(".toast", { hasText: "Added “pay rent”" }).waitFor();
    assert.equal(await page.evaluate(() => window.__permissionRequests ?? 0), 1, "the first reminder asks for permission");

    await quickAdd(page, "Write report tomorrow at 5pm #work");
    await showAll();
    await row(page, "pay rent").waitFor();
    await row(page, "Write report").waitFor();
    const rent = await taskByTitle("pay rent");
    assert.equal(rent.recurrence.rrule, "FREQ=MONTHLY;BYMONTHDAY=-1");
    assert.equal(rent.priority, "high");
    assert.deepEqual(rent.tags, ["home"]);
    assert.equal(rent.reminders[0].offset_minutes, 1440);
    assert.match(await row(page, "pay rent").innerText(), /High priority[\s\S]*Every month on the last day[\s\S]*#home/);
    await screenshot(page, "03-list-all");
  });

  test("the editor changes every field", async () => {
    await page.getByRole("button", { name: "Edit “Write report”" }).click();
    const d = editor();
    await d.getByRole("heading", { name: "Edit task" }).waitFor();
    await d.getByLabel("Title").fill("Write quarterly report");
    await d.getByLabel("Description").fill("Numbers for Q4, then send to Bob.");
    await d.getByRole("radio", { name: "Medium" }).check();
    const tags = d.getByRole("combobox", { name: "Tags" });
    await tags.fill("ho");
    await d.getByRole("option", { name: "#home" }).waitFor(); // autocomplete from the user's tags
    await tags.press("Enter");
    await tags.fill("finance");
    await tags.press("Enter");
    await d.getByRole("button", { name: "Remove tag work" }).click();
    await d.getByLabel("Time zone").selectOption("America/New_York");
    await d.getByLabel("Date", { exact: true }).fill(EDIT_DAY);
    await d.getByLabel("Time", { exact: true }).fill("17:30");
    await d.getByLabel("Repeats").selectOption("weekly");
    await d.getByLabel("Every").fill("2");
    for (const day of ["Monday", "Thursday"]) await d.getByRole("checkbox", { name: day }).check();
    const friday = d.getByRole("checkbox", { name: "Friday" }); // tomorrow's weekday may be preselected
    for (const day of ["Tuesday", "Wednesday", "Friday", "Saturday", "Sunday"]) {
      const box = d.getByRole("checkbox", { name: day });
      if (await box.isChecked()) await box.uncheck();
    }
    assert.equal(await friday.isChecked(), false);
    await d.getByRole("checkbox", { name: "Count from when I complete it" }).check();
    await d.getByRole("button", { name: "Add reminder" }).click();
    await d.getByLabel("Reminder 1 amount").fill("2");
    await d.getByLabel("Reminder 1 unit").selectOption("hours");
    await d.getByRole("button", { name: "Add reminder" }).click();
    await d.getByLabel("Reminder 2 type").selectOption("at");
    await d.getByLabel(/^Reminder 2 time/).fill(`${EDIT_DAY}T08:00`);
    await screenshot(page, "04-editor");
    await d.getByRole("button", { name: "Save" }).click();
    await page.locator(".toast", { hasText: "Saved “Write quarterly report”" }).waitFor();

    const t = await taskByTitle("Write quarterly report");
    assert.equal(t.description, "Numbers for Q4, then send to Bob.");
    assert.equal(t.priority, "medium");
    assert.deepEqual([...t.tags].sort(), ["finance", "home"]);
    assert.equal(t.timezone, "America/New_York");
    assert.equal(new Date(t.due_at).toISOString(), zonedInstant(EDIT_DAY, "17:30", "America/New_York"));
    assert.equal(t.all_day, false);
    assert.deepEqual(t.recurrence, { rrule: "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH", anchor: "completion" });
    const offsets = t.reminders.filter((r) => r.offset_minutes !== null).map((r) => r.offset_minutes);
    const ats = t.reminders.filter((r) => r.at).map((r) => new Date(r.at).toISOString());
    assert.deepEqual(offsets, [120]);
    assert.deepEqual(ats, [zonedInstant(EDIT_DAY, "08:00", "America/New_York")]);
    // permission comes from the user (the test grants it) from here on
    await main.context.grantPermissions(["notifications"], { origin: system.url });

    // monthly on the last Friday
    await page.getByRole("button", { name: "Edit “Write quarterly report”" }).click();
    await d.getByLabel("Repeats").selectOption("monthly");
    await d.getByLabel("Every").fill("1");
    await d.getByRole("radio", { name: "A weekday of the month" }).check();
    await d.getByLabel("Which week").selectOption("-1");
    await d.getByLabel("Weekday", { exact: true }).selectOption("FR");
    await d.getByRole("checkbox", { name: "Count from when I complete it" }).uncheck();
    await d.getByRole("button", { name: "Save" }).click();
    await d.waitFor({ state: "hidden" });
    await waitFor(async () => (await taskByTitle("Write quarterly report")).recurrence.rrule.startsWith("FREQ=MONTHLY"), { message: "monthly save" });
    assert.deepEqual((await taskByTitle("Write quarterly report")).recurrence, { rrule: "FREQ=MONTHLY;BYDAY=-1FR", anchor: "schedule" });

    // a custom RRULE (last workday of the month), monthly on a day, then an all-day date
    await page.getByRole("button", { name: "Edit “Write quarterly report”" }).click();
    await d.getByLabel("Repeats").selectOption("custom");
    await d.getByLabel("RRULE (RFC 5545)").fill("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1");
    await d.getByRole("checkbox", { name: "All day" }).check();
    await d.getByRole("button", { name: "Save" }).click();
    await waitFor(async () => (await taskByTitle("Write quarterly report")).all_day, { message: "all-day save" });
    const custom = await taskByTitle("Write quarterly report");
    assert.equal(custom.recurrence.rrule, "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1");
    assert.equal(wallIn("America/New_York", new Date(custom.due_at)).date, EDIT_DAY);

    await page.getByRole("button", { name: "Edit “Write quarterly report”" }).click();
    assert.equal(await d.getByLabel("Repeats").inputValue(), "custom", "a rule the builder cannot show stays custom");
    await d.getByLabel("Repeats").selectOption("monthly");
    await d.getByRole("radio", { name: "Day of the month", exact: true }).check();
    await d.getByLabel("Day (1–31)").fill("15");
    await d.getByRole("button", { name: "Save" }).click();
    await waitFor(async () => (await taskByTitle("Write quarterly report")).recurrence.rrule === "FREQ=MONTHLY;BYMONTHDAY=15", {
      message: "monthly on the 15th",
    });

    // a bad custom rule is refused with a message, nothing saved
    await page.getByRole("button", { name: "Edit “Write quarterly report”" }).click();
    await d.getByLabel("Repeats").selectOption("custom");
    await d.getByLabel("RRULE (RFC 5545)").fill("FREQ=SOMETIMES");
    assert.match(await d.locator(".field-error").first().innerText(), /Unknown FREQ/);
    await d.getByRole("button", { name: "Cancel" }).click();
    await d.waitFor({ state: "hidden" });
  });

  test("search, filters, views and sorting", async () => {
    const day = (n) => {
      const w = wallIn(ZONE, new Date(Date.now() + n * 86400000));
      return w.date;
    };
    for (const body of [
      { title: "Buy groceries", priority: "low", tags: ["shop"] },
      { title: "Call plumber", priority: "high", tags: ["home"], due_at: `${day(-1)}T10:00:00+01:00` },
      { title: "Book flights", priority: "medium", tags: ["travel"], due_at: `${FLIGHT_DAY}T12:00:00+01:00` },
    ]) {
      const r = await apiCall(page, "POST", "/api/v1/tasks", body);
      assert.equal(r.status, 201);
    }
    await showAll();
    await row(page, "Book flights").waitFor(); // created elsewhere: arrived over the realtime stream

    const search = page.getByLabel("Search tasks");
    await search.fill("grocries"); // a typo still finds it
    await waitFor(async () => (await page.locator("li.task").count()) === 1, { message: "search to narrow" });
    await row(page, "Buy groceries").waitFor();
    await search.fill("");
    await row(page, "Book flights").waitFor();

    await page.getByRole("button", { name: /^Filters/ }).click();
    const filters = page.getByRole("group", { name: "Filters" });
    await filters.getByRole("checkbox", { name: "High" }).check();
    await waitFor(async () => (await page.locator("li.task").count()) === 2, { message: "priority filter" });
    await row(page, "Call plumber").waitFor();
    await row(page, "pay rent").waitFor();
    await screenshot(page, "05-filters");
    await filters.getByRole("checkbox", { name: "High" }).uncheck();

    await filters.getByRole("checkbox", { name: "#travel" }).check();
    await waitFor(async () => (await page.locator("li.task").count()) === 1, { message: "tag filter" });
    await row(page, "Book flights").waitFor();
    await filters.getByRole("checkbox", { name: "#travel" }).uncheck();

    await filters.getByRole("checkbox", { name: "No due date" }).check();
    await waitFor(async () => (await page.locator("li.task").count()) === 1, { message: "no date filter" });
    await row(page, "Buy groceries").waitFor();
    await filters.getByRole("checkbox", { name: "No due date" }).uncheck();

    const around = (n) => {
      const [y, m, dd] = FLIGHT_DAY.split("-").map(Number);
      return new Date(Date.UTC(y, m - 1, dd + n)).toISOString().slice(0, 10);
    };
    await filters.getByLabel("From").fill(around(-1));
    await filters.getByLabel("To").fill(around(1));
    await waitFor(async () => (await page.locator("li.task").count()) === 1, { message: "due range" });
    await row(page, "Book flights").waitFor();
    await filters.getByRole("button", { name: "Clear filters" }).click();

    await page.getByLabel("Sort").selectOption("title");
    await waitFor(
      async () => {
        const titles = await page.locator("li.task .task-title").allInnerTexts();
        const sorted = [...titles].sort((a, b) => a.localeCompare(b, "en", { sensitivity: "base" }));
        return titles.length >= 5 && JSON.stringify(titles) === JSON.stringify(sorted);
      },
      { message: "titles sorted A–Z" },
    );
    await page.getByLabel("Sort").selectOption("priority");
    await waitFor(async () => (await page.locator("li.task .task-title").first().innerText()).match(/pay rent|Call plumber/), {
      message: "high priority first",
    });

    await nav().getByRole("button", { name: "Overdue" }).click();
    await waitFor(async () => (await page.locator("li.task").count()) === 1, { message: "overdue view" });
    await row(page, "Call plumber").waitFor();
    await nav().getByRole("button", { name: "Upcoming" }).click();
    await row(page, "Book flights").waitFor();
    await nav().getByRole("button", { name: "Today" }).click();
    await row(page, "Call plumber").waitFor(); // overdue shows in Today too
    assert.equal(await row(page, "Book flights").count(), 0);
  });

  test("completing a recurring task brings its next occurrence without a reload", async () => {
    await showAll();
    const first = await taskByTitle("pay rent");
    await page.getByRole("checkbox", { name: "Complete “pay rent”" }).check();
    await page.locator(".toast", { hasText: "Completed “pay rent”" }).waitFor();
    const next = await waitFor(
      async () => {
        const r = await apiCall(page, "GET", "/api/v1/tasks?status=open&recurring=true&q=rent");
        return r.body.items.find((t) => t.series_id === first.series_id && t.occurrence === first.occurrence + 1);
      },
      { message: "the next occurrence" },
    );
    assert.equal(next.due_at, first.next_due_at);
    const label = wallIn(ZONE, new Date(next.due_at));
    const dayOfMonth = String(Number(label.date.slice(8, 10)));
    await waitFor(
      async () =>
        (await page.locator("li.task", { hasText: "pay rent" }).count()) === 1 &&
        new RegExp(`\\b${dayOfMonth} \\w+( \\d{4})? 09:00`).test(await row(page, "pay rent").innerText()), // another year shows its year
      { message: "the next occurrence in the list, the completed one gone" },
    );
    await screenshot(page, "06-next-occurrence");
  });

  test("a reminder a few seconds ahead shows a browser notification and lands in the inbox", async () => {
    await main.context.grantPermissions(["notifications"], { origin: system.url }); // (granted earlier too)
    await showAll();
    await quickAdd(page, "Stretch your legs");
    await row(page, "Stretch your legs").waitFor();
    await page.getByRole("button", { name: "Edit “Stretch your legs”" }).click();
    const d = editor();
    await d.getByRole("button", { name: "Add reminder" }).click();
    const at = wallIn(ZONE, new Date(Date.now() + 6000));
    await d.getByLabel(/^Reminder 1 time/).fill(`${at.date}T${at.time}`);
    await d.getByRole("button", { name: "Save" }).click();
    await d.waitFor({ state: "hidden" });
    const task = await waitFor(async () => {
      const t = await taskByTitle("Stretch your legs");
      return t?.reminders.length ? t : null;
    }, { message: "the reminder saved" });
    const shown = await waitFor(() => main.notifications.find((n) => n.title === "Stretch your legs"), {
      timeout: 30_000,
      message: "the reminder's notification",
    });
    assert.equal(shown.tag, `reminder-${task.reminders[0].id}`);
    assert.equal(shown.data?.task_id, task.id);
    await page.getByRole("button", { name: /Notifications, \d+ unread/ }).waitFor();
    await page.waitForTimeout(1500); // a duplicate (resync, push) would show by now
    assert.equal(main.notifications.filter((n) => n.tag === shown.tag).length, 1, "shown once");
    await page.getByRole("button", { name: /Notifications, \d+ unread/ }).click();
    await screenshot(page, "07-inbox");
    await page.getByRole("region", { name: "Inbox" }).getByRole("button", { name: /Stretch your legs/ }).click();
    await editor().getByLabel("Title").waitFor();
    assert.equal(await editor().getByLabel("Title").inputValue(), "Stretch your legs", "the notification opens its task");
    await page.keyboard.press("Escape");
    await editor().waitFor({ state: "hidden" });
    await page.getByRole("button", { name: "Notifications", exact: true }).waitFor();

    await page.getByRole("button", { name: "Settings" }).click();
    const s = page.getByRole("dialog");
    await s.getByTestId("permission-state").filter({ hasText: "granted" }).waitFor();
    await s.getByText(/Web Push: not available here/).waitFor(); // no push service: the open tab shows reminders
    const vapid = (await apiCall(page, "GET", "/api/v1/push/vapid-public-key")).body.public_key;
    const keys = await page.evaluate(() => window.__pushSubscribeKeys ?? []);
    const b64url = (b64) => b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    assert.ok(keys.length > 0 && keys.every((k) => b64url(k) === vapid), "subscribed with the API's VAPID key");
    const before = main.notifications.length;
    await s.getByRole("button", { name: "Send a test notification" }).click();
    await waitFor(() => main.notifications.length > before, { message: "the test notification" });
    await screenshot(page, "08-settings");
    await s.getByRole("button", { name: "Done" }).click();
  });

  test("two tabs stay in sync", async () => {
    const other = await main.context.newPage();
    await other.goto("/?view=all");
    await other.locator(".live-live").waitFor();
    await quickAdd(other, "Water the plants #home");
    await row(page, "Water the plants").waitFor(); // appeared in the first tab, no reload
    await page.getByRole("checkbox", { name: "Complete “Water the plants”" }).check();
    await waitFor(async () => (await row(other, "Water the plants").count()) === 0, { message: "completion in the other tab" });
    await other.getByRole("button", { name: "Edit “Book flights”" }).click();
    await editor(other).getByLabel("Title").fill("Book flights to Lisbon");
    await editor(other).getByRole("button", { name: "Save" }).click();
    await row(page, "Book flights to Lisbon").waitFor();
    await screenshot(other, "09-second-tab");
    await other.close();
  });

  test("chat adds a task, shows its tool activity and links to the task", async () => {
    await page.getByRole("button", { name: "Chat" }).click();
    const chat = page.getByRole("complementary", { name: "Chat with the assistant" });
    await chat.getByRole("heading", { name: "Assistant" }).waitFor(); // the built-in panel: ChatKit's script did not load
    const box = chat.getByLabel("Message the assistant");
    await box.fill("add buy oat milk tomorrow at 10am high priority");
    await box.press("Enter");
    const tool = chat.locator(".msg.tool", { hasText: "Added" });
    await tool.waitFor({ timeout: 20_000 });
    await chat.locator(".msg.assistant", { hasText: "buy oat milk" }).waitFor();
    await row(page, "buy oat milk").waitFor(); // the list got it over the realtime stream
    await screenshot(page, "10-chat");
    await tool.getByRole("link", { name: /^Open/ }).click();
    assert.equal(await editor().getByLabel("Title").inputValue(), "buy oat milk");
    await editor().getByRole("button", { name: "Cancel" }).click();

    await box.fill("done with buy oat milk");
    await box.press("Enter");
    await chat.locator(".msg.tool", { hasText: /Completed|Done|complete/i }).waitFor({ timeout: 20_000 });
    await waitFor(async () => (await row(page, "buy oat milk").count()) === 0, { message: "completed by chat" });
    const threads = await chat.getByLabel("Conversation").locator("option").allInnerTexts();
    assert.ok(threads.some((t) => t.includes("buy oat milk")), "the conversation is in the thread list");
    await chat.getByRole("button", { name: "Close chat" }).click();
  });

  test("delete and complete can be undone", async () => {
    await row(page, "Buy groceries").getByRole("button", { name: "Delete “Buy groceries”" }).click();
    await waitFor(async () => (await row(page, "Buy groceries").count()) === 0, { message: "hidden at once" });
    await page.locator(".toast", { hasText: "Deleted “Buy groceries”" }).getByRole("button", { name: "Undo" }).click();
    await row(page, "Buy groceries").waitFor();
    assert.equal((await taskByTitle("Buy groceries"))?.status, "open");

    await page.getByRole("checkbox", { name: "Complete “Call plumber”" }).check();
    await page.locator(".toast", { hasText: "Completed “Call plumber”" }).getByRole("button", { name: "Undo" }).click();
    await waitFor(async () => (await taskByTitle("Call plumber"))?.status === "open", { message: "reopened by undo" });

    await row(page, "Buy groceries").getByRole("button", { name: "Delete “Buy groceries”" }).click();
    await waitFor(async () => !(await taskByTitle("Buy groceries")), { timeout: 15_000, message: "deleted after the undo window" });
  });

  test("keyboard use and phone width", async () => {
    await page.locator("body").click({ position: { x: 5, y: 500 } });
    await page.keyboard.press("/");
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("type")), "search");
    await page.keyboard.press("Tab"); // out of the search box
    await page.locator("body").click({ position: { x: 5, y: 500 } });
    await page.keyboard.press("n");
    assert.ok(await page.getByLabel("Quick add a task").evaluate((el) => el === document.activeElement));
    const opener = page.getByRole("button", { name: "Edit “Call plumber”" });
    await opener.focus();
    await page.keyboard.press("Enter");
    await editor().getByLabel("Title").waitFor();
    assert.ok(await editor().getByLabel("Title").evaluate((el) => el === document.activeElement), "focus moves into the editor");
    await page.keyboard.press("Escape");
    await editor().waitFor({ state: "hidden" });
    assert.ok(await opener.evaluate((el) => el === document.activeElement), "focus returns to the task");

    const phone = await newContext(browser, system.url, { viewport: { width: 390, height: 844 } });
    await phone.context.addInitScript(
      ({ token }) => {
        try {
          if (!localStorage.getItem("todo.token")) localStorage.setItem("todo.token", token);
        } catch {
          /* about:blank has no storage */
        }
      },
      { token: await page.evaluate(() => localStorage.getItem("todo.token")) },
    );
    const p = await phone.context.newPage();
    await p.goto("/?view=all");
    await row(p, "Call plumber").waitFor();
    const [overflow, wide] = await p.evaluate(() => [
      document.documentElement.scrollWidth - window.innerWidth,
      [...document.querySelectorAll("body *")]
        .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
        .map((el) => `${el.tagName}.${el.className}`)
        .slice(0, 8),
    ]);
    assert.ok(overflow <= 0, `no sideways scrolling at phone width (${overflow}px: ${wide.join(", ")})`);
    await screenshot(p, "11-phone-list");
    await p.getByRole("button", { name: "Menu" }).click();
    await p.getByRole("navigation", { name: "Views" }).getByRole("button", { name: "Today" }).click();
    await p.getByRole("heading", { level: 1, name: /^Today/ }).waitFor();
    await p.getByRole("button", { name: "Edit “Call plumber”" }).click();
    await screenshot(p, "12-phone-editor");
    await editor(p).getByRole("button", { name: "Cancel" }).click();
    await p.getByRole("button", { name: "Chat" }).click();
    await p.getByRole("heading", { name: "Assistant" }).waitFor();
    await screenshot(p, "13-phone-chat");
    allErrors.push(...phone.errors);
    await phone.context.close();
  });

  test("no errors in the browser console", () => {
    allErrors.push(...main.errors);
    assert.deepEqual(allErrors, []);
  });
});
