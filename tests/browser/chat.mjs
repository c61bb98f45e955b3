// Two tabs of headless Chromium on the chat example: both connect with the official
// browser client (long-polling, then the upgrade to WebSocket), join a room, and each
// sees the other's message. Usage: node chat.mjs URL SCREENSHOT.png
import { chromium } from "playwright-core";

const [url, screenshot] = process.argv.slice(2);
const fail = (message) => {
  console.error("FAIL " + message);
  process.exit(1);
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const timeout = 10000;
try {
  const tabs = [];
  for (const name of ["alice", "bob"]) {
    const page = await browser.newPage();
    page.on("pageerror", (e) => fail(`${name}: page error ${e}`));
    await page.goto(url);
    await page.waitForFunction(
      () => document.getElementById("status").textContent.startsWith("connected as "),
      null,
      { timeout },
    );
    // The browser client starts on long-polling and upgrades to WebSocket.
    await page.waitForFunction(() => socket.io.engine.transport.name === "websocket", null, { timeout });
    await page.fill("#join input[name=room]", "lobby");
    await page.click("#join button");
    await page.waitForFunction(() => document.getElementById("log").textContent.includes("joined lobby"), null, {
      timeout,
    });
    tabs.push({ name, page });
  }
  const say = async ({ page }, text) => {
    await page.fill("#say input[name=text]", text);
    await page.click("#say button");
  };
  const sees = ({ name, page }, text) =>
    page
      .waitForFunction((t) => document.getElementById("log").textContent.includes(t), text, { timeout })
      .catch(() => fail(`${name} never saw "${text}"`));
  await say(tabs[0], "hello from alice");
  await sees(tabs[1], "@lobby: hello from alice");
  await sees(tabs[0], "@lobby: hello from alice");
  await say(tabs[1], "hi alice, bob here");
  await sees(tabs[0], "@lobby: hi alice, bob here");
  const transport = await tabs[0].page.evaluate(() => socket.io.engine.transport.name);
  await tabs[0].page.screenshot({ path: screenshot });
  console.log(`ok two tabs chatted in room lobby over ${transport}; screenshot ${screenshot}`);
} finally {
  await browser.close();
}
