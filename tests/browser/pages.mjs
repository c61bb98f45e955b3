// Opens the WebSocket and server-sent-events example pages in headless Chromium and
// checks what a person would see: the echoes of the page's own messages, and the clock
// ticking. Screenshots go to $SHOTS (default /tmp).
//
//   node tests/browser/pages.mjs WEBSOCKET_URL SSE_URL
import { chromium } from "playwright-core";

const [wsUrl, sseUrl] = process.argv.slice(2);
const shots = process.env.SHOTS || "/tmp";
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const fail = async (what) => {
  console.error(`FAIL: ${what}`);
  await browser.close();
  process.exit(1);
};

try {
  const page = await browser.newPage();
  await page.goto(wsUrl);
  // The page sends a text and a binary message on open; both come back as they went.
  await page.waitForFunction(
    () => document.getElementById("log").textContent.includes("binary: 1,2,3"),
    null,
    { timeout: 10000 },
  );
  const log = await page.locator("#log").innerText();
  if (!log.includes("open") || !log.includes("text: hello from the page")) {
    await fail(`websocket page log: ${log}`);
  }
  await page.fill("#text", "typed by a person");
  await page.click("button");
  await page.waitForFunction(
    () => document.getElementById("log").textContent.includes("text: typed by a person"),
    null,
    { timeout: 10000 },
  );
  await page.screenshot({ path: `${shots}/carafe-websocket.png` });
  console.log("ok: the WebSocket page echoes text and binary, and what is typed");

  const clock = await browser.newPage();
  await clock.goto(sseUrl);
  await clock.waitForFunction(
    () => Number(document.getElementById("tick").textContent) >= 2,
    null,
    { timeout: 10000 },
  );
  await clock.screenshot({ path: `${shots}/carafe-sse.png` });
  console.log(`ok: the event-stream page ticks (${await clock.locator("#tick").innerText()})`);
} catch (e) {
  await fail(e.message);
}
await browser.close();
