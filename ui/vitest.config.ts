import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  oxc: { jsx: { runtime: "automatic" } },
  resolve: { alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) } },
  test: {
    environment: "jsdom",
    globals: true,
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["./src/test/setup.ts"],
    pool: "threads",
    maxWorkers: 2,
    // user-event types key by key: on a loaded 2-core machine a long form takes seconds, and a test that
    // times out keeps typing into the next test's DOM. The limit guards against hangs, not slowness.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
