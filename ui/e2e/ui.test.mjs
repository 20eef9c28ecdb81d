// The web UI end to end, in headless Debian Chromium against the running system (see harness.mjs).
// Every test is independent: its own browser context and its own account (registered through the API,
// its data set up through the API where the test is not about creating it), its own console-error
// check; a failing step names itself and leaves ui/artifacts/e2e/failed-<test>-<step>.png.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  ARTIFACTS,
  ZONE,
  api,
  dayOfMonthAhead,
  launchBrowser,
  newAccount,
  newContext,
  screenshot,
  signIn,
  slug,
  startSystem,
  waitFor,
  wallIn,
  zonedInstant,
} from "./harness.mjs";

// Dates derived from the real clock, never written: the editor's task is due on the 5th three months
// ahead, "Book flights" on the 15th two months ahead (its due-range filter spans the 14th-16th, so no
// "last day of the month" task nor the editor's task can ever fall into it, whatever today is).
const EDIT_DAY = dayOfMonthAhead("America/New_York", 3, 5);
const FLIGHT_DAY = dayOfMonthAhead(ZONE, 2, 15);
/** YYYY-MM-DD n days from now in the user's zone. */
const day = (n) => wallIn(ZONE, new Date(Date.now() + n * 86400000)).date;
/** The last day of next month in the user's zone (where "pay rent every month on the last day" falls). */
const RENT_DAY = (() => {
  const [y, m] = dayOfMonthAhead(ZONE, 2, 1).split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, 0)).toISOString().slice(0, 10);
})();

let system;
let browser;

const row = (p, title) => p.locator("li.task", { has: p.getByRole("button", { name: `Edit “${title}”`, exact: true }) });
const editor = (p) => p.getByRole("dialog");
const nav = (p) => p.getByRole("navigation", { name: "Views" });

async function showAll(p) {
  await nav(p).getByRole("button", { name: "All", exact: true }).click();
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

/**
 * One browser test: `fn(t)` gets `t.session(options)` (a context of its own, signed in as a new account
 * unless `signedIn: false`, or as `account`), `t.step(name, fn)` and `t.api(...)`. Its contexts are closed
 * afterwards, and every console error they logged fails the test unless `allowErrors` accepts it.
 */
function uiTest(name, fn, { allowErrors = () => false } = {}) {
  test(name, async () => {
    const sessions = [];
    let current = null; // the page the last step acted on, for the failure screenshot
    const t = {
      async session({ signedIn = true, account = null, grant = true, viewport } = {}) {
        const acct = account ?? (signedIn ? await newAccount(system.url, slug(name).slice(0, 20)) : null);
        const s = await newContext(browser, system.url, { grant, viewport });
        s.context.setDefaultTimeout(30_000); // a loaded 2-core machine is slow: conditions, generous limits
        if (acct) await signIn(s.context, acct.token);
        s.page = await s.context.newPage();
        s.account = acct;
        s.api = (method, path, body) => api(system.url, acct?.token, method, path, body);
        s.task = async (title) => {
          const r = await s.api("GET", `/api/v1/tasks?status=all&limit=200&q=${encodeURIComponent(title)}`);
          return r.body.items.find((x) => x.title === title);
        };
        s.seed = async (...bodies) => {
          for (const b of bodies) {
            const r = await s.api("POST", "/api/v1/tasks", b);
            assert.equal(r.status, 201, `seed ${b.title}: ${JSON.stringify(r.body)}`);
          }
        };
        sessions.push(s);
        current = s.page;
        return s;
      },
      async step(label, body, page = null) {
        if (page) current = page;
        try {
          return await body();
        } catch (e) {
          const file = `failed-${slug(name)}-${slug(label)}`;
          let where = "";
          try {
            if (current && !current.isClosed()) {
              await screenshot(current, file);
              where = ` (screenshot: ${ARTIFACTS}/${file}.png)`;
            }
          } catch {
            /* the page is gone */
          }
          throw new Error(`step “${label}” failed${where}: ${e.message}`, { cause: e });
        }
      },
    };
    try {
      await fn(t);
    } finally {
      for (const s of sessions) await s.context.close().catch(() => {});
    }
    const errors = sessions.flatMap((s) => s.errors).filter((e) => !allowErrors(e));
    assert.deepEqual(errors, [], "no errors in the browser console");
  });
}

describe("Todo Cloud web UI", { timeout: 900_000 }, () => {
  before(async () => {
    system = await startSystem();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await system?.stop();
  });

  uiTest("register, sign out and sign in again; permission is not asked on load", async (t) => {
    const { page } = await t.session({ signedIn: false, grant: false });
    const email = `ada-${process.pid}-${Date.now()}@example.com`;
    const password = "a long password";
    await t.step("register", async () => {
      await page.goto("/");
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
      await screenshot(page, "01-sign-in");
      await page.getByRole("button", { name: "Create an account" }).click();
      await page.getByLabel("Email").fill(email);
      await page.getByLabel("Password").fill(password);
      await page.getByRole("button", { name: "Create account" }).click();
      await page.getByRole("heading", { level: 1, name: /^Today/ }).waitFor();
      const token = await page.evaluate(() => localStorage.getItem("todo.token"));
      const me = await api(system.url, token, "GET", "/api/v1/me");
      assert.equal(me.body.email, email);
      assert.equal(me.body.timezone, ZONE, "registered with the browser's zone");
    });
    await t.step("sign out and in again", async () => {
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
  });

  uiTest(
    "a wrong password is refused with a message",
    async (t) => {
      const account = await newAccount(system.url, "wrong");
      const { page } = await t.session({ signedIn: false });
      await t.step("sign in with a wrong password", async () => {
        await page.goto("/");
        await page.getByLabel("Email").fill(account.email);
        await page.getByLabel("Password").fill("wrong password!");
        await page.getByRole("button", { name: "Sign in", exact: true }).click();
        assert.match(await page.locator(".form-error").innerText(), /password|credentials|invalid/i);
      });
    },
    { allowErrors: (e) => e.includes("401") }, // the browser logs the refused request; nothing else may
  );

  uiTest("quick add in natural language shows the parsed draft before saving", async (t) => {
    const s = await t.session({ grant: false });
    const { page } = s;
    await page.goto("/");
    const input = page.getByLabel("Quick add a task");
    const tomorrow = [];
    await t.step("preview the draft", async () => {
      await input.fill("pay rent every month on the last day at 9am #home high priority remind me 1 day before");
      const preview = page.getByTestId("quick-add-preview");
      await preview.locator(".pchip.recur").waitFor();
      const text = (await preview.locator(".pchip").allInnerTexts()).join(" | ");
      assert.match(text, /Title\s+pay rent/);
      assert.match(text, /Due\s+.+09:00/);
      assert.match(text, /Priority\s+high/);
      assert.match(text, /#home/);
      assert.match(text, /Repeats\s+every month on the last day/);
      assert.match(text, /Reminder\s+1 day before/);
      assert.ok((await preview.locator("mark.rec").count()) >= 4, "recognised phrases are marked in the text");
      await screenshot(page, "02-quick-add-preview");
    });
    await t.step("save it", async () => {
      await input.press("Enter");
      await page.locator(".toast", { hasText: "Added “pay rent”" }).waitFor();
      assert.equal(await page.evaluate(() => window.__permissionRequests ?? 0), 1, "the first reminder asks for permission");
      tomorrow.push(day(1));
      await quickAdd(page, "Write report tomorrow at 5pm #work");
      tomorrow.push(day(1)); // (a midnight between the two is either day)
    });
    await t.step("what was saved", async () => {
      await showAll(page);
      await row(page, "pay rent").waitFor();
      await row(page, "Write report").waitFor();
      const rent = await s.task("pay rent");
      assert.equal(rent.recurrence.rrule, "FREQ=MONTHLY;BYMONTHDAY=-1");
      assert.equal(rent.priority, "high");
      assert.deepEqual(rent.tags, ["home"]);
      assert.equal(rent.reminders[0].offset_minutes, 1440);
      assert.match(await row(page, "pay rent").innerText(), /High priority[\s\S]*Every month on the last day[\s\S]*#home/);
      const report = await s.task("Write report");
      const due = wallIn(ZONE, new Date(report.due_at));
      assert.ok(tomorrow.includes(due.date) && due.time === "17:00:00", `due tomorrow 17:00, not ${JSON.stringify(due)}`);
      await screenshot(page, "03-list-all");
    });
  });

  uiTest("the editor changes every field", async (t) => {
    const s = await t.session();
    const { page } = s;
    const d = editor(page);
    await s.seed(
      { title: "Write report", priority: "low", tags: ["work"], due_at: zonedInstant(day(1), "17:00", ZONE) },
      { title: "Water the plants", tags: ["home"] },
    );
    await page.goto("/?view=all");
    await t.step("edit every field", async () => {
      await page.getByRole("button", { name: "Edit “Write report”" }).click();
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
      for (const wd of ["Monday", "Thursday"]) await d.getByRole("checkbox", { name: wd }).check();
      for (const wd of ["Tuesday", "Wednesday", "Friday", "Saturday", "Sunday"]) {
        const box = d.getByRole("checkbox", { name: wd }); // the due date's weekday may be preselected
        if (await box.isChecked()) await box.uncheck();
      }
      assert.equal(await d.getByRole("checkbox", { name: "Friday" }).isChecked(), false);
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
    });
    await t.step("what was saved", async () => {
      const x = await s.task("Write quarterly report");
      assert.equal(x.description, "Numbers for Q4, then send to Bob.");
      assert.equal(x.priority, "medium");
      assert.deepEqual([...x.tags].sort(), ["finance", "home"]);
      assert.equal(x.timezone, "America/New_York");
      assert.equal(new Date(x.due_at).toISOString(), zonedInstant(EDIT_DAY, "17:30", "America/New_York"));
      assert.equal(x.all_day, false);
      assert.deepEqual(x.recurrence, { rrule: "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH", anchor: "completion" });
      const offsets = x.reminders.filter((r) => r.offset_minutes !== null).map((r) => r.offset_minutes);
      const ats = x.reminders.filter((r) => r.at).map((r) => new Date(r.at).toISOString());
      assert.deepEqual(offsets, [120]);
      assert.deepEqual(ats, [zonedInstant(EDIT_DAY, "08:00", "America/New_York")]);
    });
    await t.step("monthly on the last Friday", async () => {
      await page.getByRole("button", { name: "Edit “Write quarterly report”" }).click();
      await d.getByLabel("Repeats").selectOption("monthly");
      await d.getByLabel("Every").fill("1");
      await d.getByRole("radio", { name: "A weekday of the month" }).check();
      await d.getByLabel("Which week").selectOption("-1");
      await d.getByLabel("Weekday", { exact: true }).selectOption("FR");
      await d.getByRole("checkbox", { name: "Count from when I complete it" }).uncheck();
      await d.getByRole("button", { name: "Save" }).click();
      await d.waitFor({ state: "hidden" });
      await waitFor(async () => (await s.task("Write quarterly report")).recurrence.rrule.startsWith("FREQ=MONTHLY"), { message: "monthly save" });
      assert.deepEqual((await s.task("Write quarterly report")).recurrence, { rrule: "FREQ=MONTHLY;BYDAY=-1FR", anchor: "schedule" });
    });
    await t.step("a custom RRULE, all day", async () => {
      await page.getByRole("button", { name: "Edit “Write quarterly report”" }).click();
      await d.getByLabel("Repeats").selectOption("custom");
      await d.getByLabel("RRULE (RFC 5545)").fill("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1");
      await d.getByRole("checkbox", { name: "All day" }).check();
      await d.getByRole("button", { name: "Save" }).click();
      await waitFor(async () => (await s.task("Write quarterly report")).all_day, { message: "all-day save" });
      const custom = await s.task("Write quarterly report");
      assert.equal(custom.recurrence.rrule, "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1");
      assert.equal(wallIn("America/New_York", new Date(custom.due_at)).date, EDIT_DAY);
    });
    await t.step("monthly on a day of the month", async () => {
      await page.getByRole("button", { name: "Edit “Write quarterly report”" }).click();
      assert.equal(await d.getByLabel("Repeats").inputValue(), "custom", "a rule the builder cannot show stays custom");
      await d.getByLabel("Repeats").selectOption("monthly");
      await d.getByRole("radio", { name: "Day of the month", exact: true }).check();
      await d.getByLabel("Day (1–31)").fill("15");
      await d.getByRole("button", { name: "Save" }).click();
      await waitFor(async () => (await s.task("Write quarterly report")).recurrence.rrule === "FREQ=MONTHLY;BYMONTHDAY=15", {
        message: "monthly on the 15th",
      });
    });
    await t.step("a bad custom rule is refused, nothing saved", async () => {
      await page.getByRole("button", { name: "Edit “Write quarterly report”" }).click();
      await d.getByLabel("Repeats").selectOption("custom");
      await d.getByLabel("RRULE (RFC 5545)").fill("FREQ=SOMETIMES");
      assert.match(await d.locator(".field-error").first().innerText(), /Unknown FREQ/);
      await d.getByRole("button", { name: "Cancel" }).click();
      await d.waitFor({ state: "hidden" });
      assert.equal((await s.task("Write quarterly report")).recurrence.rrule, "FREQ=MONTHLY;BYMONTHDAY=15");
    });
  });

  uiTest("search, filters, views and sorting", async (t) => {
    const s = await t.session();
    const { page } = s;
    const count = () => page.locator("li.task").count();
    await s.seed(
      { title: "pay rent", priority: "high", tags: ["home"], due_at: zonedInstant(RENT_DAY, "09:00", ZONE), recurrence: { rrule: "FREQ=MONTHLY;BYMONTHDAY=-1" } },
      { title: "Write quarterly report", priority: "medium", tags: ["finance"], due_at: zonedInstant(EDIT_DAY, "17:30", "America/New_York") },
      { title: "Buy groceries", priority: "low", tags: ["shop"] },
      { title: "Call plumber", priority: "high", tags: ["home"], due_at: zonedInstant(day(-1), "10:00", ZONE) },
    );
    await page.goto("/?view=all");
    await page.locator(".live-live").waitFor();
    await t.step("a task created elsewhere arrives", async () => {
      await s.seed({ title: "Book flights", priority: "medium", tags: ["travel"], due_at: zonedInstant(FLIGHT_DAY, "12:00", ZONE) });
      await row(page, "Book flights").waitFor(); // over the realtime stream, no reload
    });
    await t.step("search with a typo", async () => {
      const search = page.getByLabel("Search tasks");
      await search.fill("grocries");
      await waitFor(async () => (await count()) === 1, { message: "search to narrow" });
      await row(page, "Buy groceries").waitFor();
      await search.fill("");
      await waitFor(async () => (await count()) === 5, { message: "search cleared" });
    });
    const filters = page.getByRole("group", { name: "Filters" });
    await t.step("priority filter", async () => {
      await page.getByRole("button", { name: /^Filters/ }).click();
      await filters.getByRole("checkbox", { name: "High" }).check();
      await waitFor(async () => (await count()) === 2, { message: "priority filter" });
      await row(page, "Call plumber").waitFor();
      await row(page, "pay rent").waitFor();
      await screenshot(page, "05-filters");
      await filters.getByRole("checkbox", { name: "High" }).uncheck();
    });
    await t.step("tag filter", async () => {
      await filters.getByRole("checkbox", { name: "#travel" }).check();
      await waitFor(async () => (await count()) === 1, { message: "tag filter" });
      await row(page, "Book flights").waitFor();
      await filters.getByRole("checkbox", { name: "#travel" }).uncheck();
    });
    await t.step("no due date filter", async () => {
      await filters.getByRole("checkbox", { name: "No due date" }).check();
      await waitFor(async () => (await count()) === 1, { message: "no date filter" });
      await row(page, "Buy groceries").waitFor();
      await filters.getByRole("checkbox", { name: "No due date" }).uncheck();
    });
    await t.step("due range filter", async () => {
      const around = (n) => {
        const [y, m, dd] = FLIGHT_DAY.split("-").map(Number);
        return new Date(Date.UTC(y, m - 1, dd + n)).toISOString().slice(0, 10);
      };
      await filters.getByLabel("From").fill(around(-1));
      await filters.getByLabel("To").fill(around(1));
      await waitFor(async () => (await count()) === 1, { message: "due range" });
      await row(page, "Book flights").waitFor();
      await filters.getByRole("button", { name: "Clear filters" }).click();
    });
    await t.step("sorting", async () => {
      await page.getByLabel("Sort").selectOption("title");
      await waitFor(
        async () => {
          const titles = await page.locator("li.task .task-title").allInnerTexts();
          const sorted = [...titles].sort((a, b) => a.localeCompare(b, "en", { sensitivity: "base" }));
          return titles.length === 5 && JSON.stringify(titles) === JSON.stringify(sorted);
        },
        { message: "titles sorted A–Z" },
      );
      await page.getByLabel("Sort").selectOption("priority");
      await waitFor(async () => /pay rent|Call plumber/.test(await page.locator("li.task .task-title").first().innerText()), {
        message: "high priority first",
      });
    });
    await t.step("views", async () => {
      await nav(page).getByRole("button", { name: "Overdue" }).click();
      await waitFor(async () => (await count()) === 1, { message: "overdue view" });
      await row(page, "Call plumber").waitFor();
      await nav(page).getByRole("button", { name: "Upcoming" }).click();
      await row(page, "Book flights").waitFor();
      await nav(page).getByRole("button", { name: "Today" }).click();
      await row(page, "Call plumber").waitFor(); // overdue shows in Today too
      assert.equal(await row(page, "Book flights").count(), 0);
    });
  });

  uiTest("completing a recurring task brings its next occurrence without a reload", async (t) => {
    const s = await t.session();
    const { page } = s;
    await s.seed({ title: "pay rent", priority: "high", tags: ["home"], due_at: zonedInstant(RENT_DAY, "09:00", ZONE), recurrence: { rrule: "FREQ=MONTHLY;BYMONTHDAY=-1" } });
    const first = await s.task("pay rent");
    await page.goto("/?view=all");
    await page.locator(".live-live").waitFor();
    await t.step("complete it", async () => {
      await page.getByRole("checkbox", { name: "Complete “pay rent”" }).check();
      await page.locator(".toast", { hasText: "Completed “pay rent”" }).waitFor();
    });
    await t.step("the next occurrence", async () => {
      const next = await waitFor(
        async () => {
          const r = await s.api("GET", "/api/v1/tasks?status=open&recurring=true&q=rent");
          return r.body.items.find((x) => x.series_id === first.series_id && x.occurrence === first.occurrence + 1);
        },
        { message: "the next occurrence" },
      );
      assert.equal(next.due_at, first.next_due_at);
      const dayOfMonth = String(Number(wallIn(ZONE, new Date(next.due_at)).date.slice(8, 10)));
      await waitFor(
        async () =>
          (await page.locator("li.task", { hasText: "pay rent" }).count()) === 1 &&
          new RegExp(`\\b${dayOfMonth} \\w+( \\d{4})? 09:00`).test(await row(page, "pay rent").innerText()), // another year shows its year
        { message: "the next occurrence in the list, the completed one gone" },
      );
      await screenshot(page, "06-next-occurrence");
    });
  });

  uiTest("a reminder a few seconds ahead shows a browser notification and lands in the inbox", async (t) => {
    const s = await t.session();
    const { page } = s;
    await page.goto("/?view=all");
    await page.locator(".live-live").waitFor();
    let task;
    await t.step("add a reminder 6 s ahead", async () => {
      await quickAdd(page, "Stretch your legs");
      await row(page, "Stretch your legs").waitFor();
      await page.getByRole("button", { name: "Edit “Stretch your legs”" }).click();
      const d = editor(page);
      await d.getByRole("button", { name: "Add reminder" }).click();
      const at = wallIn(ZONE, new Date(Date.now() + 6000));
      await d.getByLabel(/^Reminder 1 time/).fill(`${at.date}T${at.time}`);
      await d.getByRole("button", { name: "Save" }).click();
      await d.waitFor({ state: "hidden" });
      task = await waitFor(
        async () => {
          const x = await s.task("Stretch your legs");
          return x?.reminders.length ? x : null;
        },
        { message: "the reminder saved" },
      );
    });
    await t.step("the notification, once", async () => {
      const shown = await waitFor(() => s.notifications.find((n) => n.title === "Stretch your legs"), { message: "the reminder's notification" });
      assert.equal(shown.tag, `reminder-${task.reminders[0].id}`);
      assert.equal(shown.data?.task_id, task.id);
      await page.getByRole("button", { name: /Notifications, \d+ unread/ }).waitFor();
      await page.waitForTimeout(1500); // a duplicate (resync, push) would show by now
      assert.equal(s.notifications.filter((n) => n.tag === shown.tag).length, 1, "shown once");
    });
    await t.step("the inbox opens its task", async () => {
      await page.getByRole("button", { name: /Notifications, \d+ unread/ }).click();
      await screenshot(page, "07-inbox");
      await page.getByRole("region", { name: "Inbox" }).getByRole("button", { name: /Stretch your legs/ }).click();
      await editor(page).getByLabel("Title").waitFor();
      assert.equal(await editor(page).getByLabel("Title").inputValue(), "Stretch your legs", "the notification opens its task");
      await page.keyboard.press("Escape");
      await editor(page).waitFor({ state: "hidden" });
      await page.getByRole("button", { name: "Notifications", exact: true }).waitFor();
    });
    await t.step("settings: permission, push key, a test notification", async () => {
      await page.getByRole("button", { name: "Settings" }).click();
      const d = page.getByRole("dialog");
      await d.getByTestId("permission-state").filter({ hasText: "granted" }).waitFor();
      await d.getByText(/Web Push: not available here/).waitFor(); // no push service: the open tab shows reminders
      const vapid = (await s.api("GET", "/api/v1/push/vapid-public-key")).body.public_key;
      const keys = await page.evaluate(() => window.__pushSubscribeKeys ?? []);
      const b64url = (b64) => b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
      assert.ok(keys.length > 0 && keys.every((k) => b64url(k) === vapid), "subscribed with the API's VAPID key");
      const before = s.notifications.length;
      await d.getByRole("button", { name: "Send a test notification" }).click();
      await waitFor(() => s.notifications.length > before, { message: "the test notification" });
      await screenshot(page, "08-settings");
      await d.getByRole("button", { name: "Done" }).click();
    });
  });

  uiTest("two tabs stay in sync", async (t) => {
    const s = await t.session();
    const { page } = s;
    await s.seed({ title: "Book flights", tags: ["travel"], due_at: zonedInstant(FLIGHT_DAY, "12:00", ZONE) });
    await page.goto("/?view=all");
    await page.locator(".live-live").waitFor();
    const other = await s.context.newPage();
    await other.goto("/?view=all");
    await other.locator(".live-live").waitFor();
    await t.step("added in one tab, shown in the other", () => quickAdd(other, "Water the plants #home").then(() => row(page, "Water the plants").waitFor()), other);
    await t.step("completed in one, gone from the other", async () => {
      await page.getByRole("checkbox", { name: "Complete “Water the plants”" }).check();
      await waitFor(async () => (await row(other, "Water the plants").count()) === 0, { message: "completion in the other tab" });
    }, page);
    await t.step("renamed in one, renamed in the other", async () => {
      await other.getByRole("button", { name: "Edit “Book flights”" }).click();
      await editor(other).getByLabel("Title").fill("Book flights to Lisbon");
      await editor(other).getByRole("button", { name: "Save" }).click();
      await row(page, "Book flights to Lisbon").waitFor();
      await screenshot(other, "09-second-tab");
    }, other);
  });

  uiTest("chat adds a task, shows its tool activity and links to the task", async (t) => {
    const s = await t.session();
    const { page } = s;
    await page.goto("/?view=all");
    await page.locator(".live-live").waitFor();
    const chat = page.getByRole("complementary", { name: "Chat with the assistant" });
    const box = chat.getByLabel("Message the assistant");
    await t.step("add a task by chat", async () => {
      await page.getByRole("button", { name: "Chat" }).click();
      await chat.getByRole("heading", { name: "Assistant" }).waitFor(); // the built-in panel: ChatKit's script did not load
      const tomorrow = [day(1)];
      await box.fill("add buy oat milk tomorrow at 10am high priority");
      await box.press("Enter");
      await chat.locator(".msg.tool", { hasText: "Added" }).waitFor();
      await chat.locator(".msg.assistant", { hasText: "buy oat milk" }).waitFor();
      await row(page, "buy oat milk").waitFor(); // the list got it over the realtime stream
      tomorrow.push(day(1)); // (a midnight in between is either day)
      const x = await s.task("buy oat milk");
      assert.equal(x.priority, "high");
      const due = wallIn(ZONE, new Date(x.due_at));
      assert.ok(tomorrow.includes(due.date) && due.time === "10:00:00", `due tomorrow 10:00, not ${JSON.stringify(due)}`);
      await screenshot(page, "10-chat");
    });
    await t.step("the tool card links to the task", async () => {
      await chat.locator(".msg.tool", { hasText: "Added" }).getByRole("link", { name: /^Open/ }).click();
      assert.equal(await editor(page).getByLabel("Title").inputValue(), "buy oat milk");
      await editor(page).getByRole("button", { name: "Cancel" }).click();
    });
    await t.step("complete it by chat", async () => {
      await box.fill("done with buy oat milk");
      await box.press("Enter");
      await chat.locator(".msg.tool", { hasText: /Completed|Done|complete/i }).waitFor();
      await waitFor(async () => (await row(page, "buy oat milk").count()) === 0, { message: "completed by chat" });
      assert.equal((await s.task("buy oat milk")).status, "done");
      const threads = await chat.getByLabel("Conversation").locator("option").allInnerTexts();
      assert.ok(threads.some((x) => x.includes("buy oat milk")), "the conversation is in the thread list");
      await chat.getByRole("button", { name: "Close chat" }).click();
    });
  });

  uiTest("delete and complete can be undone", async (t) => {
    const s = await t.session();
    const { page } = s;
    await s.seed({ title: "Buy groceries", tags: ["shop"] }, { title: "Call plumber", priority: "high" });
    await page.goto("/?view=all");
    await row(page, "Call plumber").waitFor();
    await t.step("undo a delete", async () => {
      await row(page, "Buy groceries").getByRole("button", { name: "Delete “Buy groceries”" }).click();
      await waitFor(async () => (await row(page, "Buy groceries").count()) === 0, { message: "hidden at once" });
      await page.locator(".toast", { hasText: "Deleted “Buy groceries”" }).getByRole("button", { name: "Undo" }).click();
      await row(page, "Buy groceries").waitFor();
      assert.equal((await s.task("Buy groceries"))?.status, "open");
    });
    await t.step("undo a completion", async () => {
      await page.getByRole("checkbox", { name: "Complete “Call plumber”" }).check();
      await page.locator(".toast", { hasText: "Completed “Call plumber”" }).getByRole("button", { name: "Undo" }).click();
      await waitFor(async () => (await s.task("Call plumber"))?.status === "open", { message: "reopened by undo" });
    });
    await t.step("a delete not undone is done", async () => {
      await row(page, "Buy groceries").getByRole("button", { name: "Delete “Buy groceries”" }).click();
      await waitFor(async () => !(await s.task("Buy groceries")), { message: "deleted after the undo window" });
    });
  });

  uiTest("keyboard use and phone width", async (t) => {
    const s = await t.session();
    const { page } = s;
    await s.seed({ title: "Call plumber", priority: "high", tags: ["home"], due_at: zonedInstant(day(-1), "10:00", ZONE) });
    await page.goto("/?view=all");
    await row(page, "Call plumber").waitFor();
    await t.step("shortcuts / and n", async () => {
      await page.locator("body").click({ position: { x: 5, y: 500 } });
      await page.keyboard.press("/");
      assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("type")), "search");
      await page.keyboard.press("Tab"); // out of the search box
      await page.locator("body").click({ position: { x: 5, y: 500 } });
      await page.keyboard.press("n");
      assert.ok(await page.getByLabel("Quick add a task").evaluate((el) => el === document.activeElement));
    });
    await t.step("focus into the editor and back", async () => {
      const opener = page.getByRole("button", { name: "Edit “Call plumber”" });
      await opener.focus();
      await page.keyboard.press("Enter");
      await editor(page).getByLabel("Title").waitFor();
      assert.ok(await editor(page).getByLabel("Title").evaluate((el) => el === document.activeElement), "focus moves into the editor");
      await page.keyboard.press("Escape");
      await editor(page).waitFor({ state: "hidden" });
      assert.ok(await opener.evaluate((el) => el === document.activeElement), "focus returns to the task");
    });
    const phone = await t.session({ account: s.account, viewport: { width: 390, height: 844 } });
    const p = phone.page;
    await t.step("no sideways scrolling at phone width", async () => {
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
    });
    await t.step("menu, editor and chat at phone width", async () => {
      await p.getByRole("button", { name: "Menu" }).click();
      await nav(p).getByRole("button", { name: "Today" }).click();
      await p.getByRole("heading", { level: 1, name: /^Today/ }).waitFor();
      await p.getByRole("button", { name: "Edit “Call plumber”" }).click();
      await screenshot(p, "12-phone-editor");
      await editor(p).getByRole("button", { name: "Cancel" }).click();
      await p.getByRole("button", { name: "Chat" }).click();
      await p.getByRole("heading", { name: "Assistant" }).waitFor();
      await screenshot(p, "13-phone-chat");
    });
  });
});
