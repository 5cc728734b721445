// Drive code-server (VS Code in the browser) through Chromium as a user would, with the Galactica
// extension installed, and record what was seen.
//
//   node drive.mjs GIVEN.json
//
// GIVEN.json (written by tests/editors/test_vscode.py): {playwright, chromium, url, outDir, ghost,
// explain, cite}. Every step takes a screenshot into outDir; what the editor showed goes to
// outDir/seen.json, with `error` set (and error.png taken) when a step failed. Each screenshot is
// measured against a blank capture of the same size (distinct colours, share of changed pixels),
// in the browser, so the test can tell a drawn workbench from a blank page.
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';

const given = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const { chromium } = createRequire(import.meta.url)(given.playwright);
const seen = { steps: [], screenshots: {}, statuses: [], console: [] };
const started = Date.now();
const out = given.outDir;
fs.mkdirSync(out, { recursive: true });
const save = () => fs.writeFileSync(path.join(out, 'seen.json'), JSON.stringify(seen, null, 2));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const browser = await chromium.launch({
  executablePath: given.chromium,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const viewport = { width: 1600, height: 900 };
const page = await browser.newPage({ viewport });
page.on('console', (m) => m.type() === 'error' && seen.console.push(m.text().slice(0, 300)));

// -- screenshots, and how much is on them ---------------------------------------------------------

const blank = await (async () => {
  const p = await browser.newPage({ viewport });
  const png = await p.screenshot({ path: path.join(out, '00-blank.png') });
  await p.close();
  return png;
})();

/** Distinct colours in `png`, and the share of its pixels that differ from the blank capture. */
async function measure(png) {
  const p = await browser.newPage({ viewport });
  try {
    return await p.evaluate(async ([shot, empty]) => {
      const pixels = async (b64) => {
        const img = new Image();
        img.src = `data:image/png;base64,${b64}`;
        await img.decode();
        const canvas = new OffscreenCanvas(img.width, img.height);
        const ctx = canvas.getContext('2d');
        ctx.drawImage(img, 0, 0);
        return ctx.getImageData(0, 0, img.width, img.height).data;
      };
      const [a, b] = [await pixels(shot), await pixels(empty)];
      const colours = new Set();
      let changed = 0;
      for (let i = 0; i < a.length; i += 4) {
        colours.add((a[i] << 16) | (a[i + 1] << 8) | a[i + 2]);
        if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) changed += 1;
      }
      return { colours: colours.size, changed: changed / (a.length / 4) };
    }, [png.toString('base64'), blank.toString('base64')]);
  } finally {
    await p.close();
  }
}

async function shoot(name) {
  const png = await page.screenshot({ path: path.join(out, `${name}.png`) });
  seen.screenshots[name] = await measure(png);
}

// -- acting like a user ---------------------------------------------------------------------------

async function step(name, run) {
  const t0 = Date.now();
  try {
    await run();
  } finally {
    seen.steps.push({ name, seconds: (Date.now() - t0) / 1000 });
    save();
  }
}

const statusItem = () =>
  page.locator('.statusbar-item', { hasText: /Galactica: (starting|loading|ready|busy|error|empty|stopped)/ }).first();

async function statusText() {
  const text = (await statusItem().textContent({ timeout: 1000 }).catch(() => null))?.trim();
  if (text && seen.statuses.at(-1) !== text) seen.statuses.push(text);
  return text;
}

/** Poll `probe` until it returns something truthy (recording the status bar meanwhile). */
async function until(what, probe, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    await statusText();
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(200);
  }
}

async function quickInput(prefix, text) {
  await page.keyboard.press(prefix);
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ state: 'visible', timeout: 10000 });
  await page.keyboard.type(text, { delay: 20 });
  return input;
}

async function openFile(name) {
  await quickInput('Control+P', name);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor({ timeout: 15000 });
  await page.keyboard.press('Enter');
  await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: 15000 });
  await page.locator('.editor-instance .monaco-editor.focused').waitFor({ timeout: 15000 });
}

/** Put the cursor at 1-based line and column, as Ctrl+G does. */
async function goTo(line, column) {
  await quickInput('Control+G', `${line}:${column}`);
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 5000 });
}

async function runCommand(title) {
  await quickInput('F1', title);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 10000 });
  await page.keyboard.press('Enter');
}

/** Save with Ctrl+S and wait until the file on disk contains `marker`. */
async function saveAndRead(file, marker) {
  await page.keyboard.press('Control+S');
  return until(`${path.basename(file)} saved with ${JSON.stringify(marker)}`, () => {
    const text = fs.readFileSync(file, 'utf8');
    return text.includes(marker) ? text : null;
  }, 15000);
}

// The light bulb: a glyph in the gutter, or a widget over the text where the gutter has no room.
const lightbulb = () => page.locator('.monaco-editor.focused :is(.lightBulbWidget, [class*="lightbulb"], [class*="light-bulb"])')
  .filter({ visible: true }).first();

const ghostText = () => page.evaluate(() => {
  const parts = [...document.querySelectorAll('.monaco-editor.focused [class*="ghost-text"]')]
    .filter((el) => !el.querySelector('[class*="ghost-text"]')); // innermost only, each once
  return parts.map((el) => el.textContent).join('').replace(/\u00a0/g, ' ');
});

// -- the scenario -----------------------------------------------------------------------------------

try {
  await step('open the workspace', async () => {
    await page.goto(given.url, { waitUntil: 'domcontentloaded', timeout: 60000 });
    await page.locator('.monaco-workbench').waitFor({ timeout: 90000 });
    await page.locator('.explorer-folders-view, .explorer-viewlet').first().waitFor({ timeout: 60000 }).catch(() => {});
    await shoot('01-workbench');
  });

  const g = given.ghost;
  await step('open a .tex file: the server starts and loads the model', async () => {
    await openFile(path.basename(g.file));
    seen.language = await page.locator('[id="status.editor.mode"]').first().textContent({ timeout: 5000 }).catch(() => null);
    await until('the status bar to say Galactica is ready', async () => (await statusText())?.includes('Galactica: ready'), 120000);
    await shoot('02-ready');
  });

  await step('type where the model knows the continuation: ghost text', async () => {
    await goTo(g.line, g.column);
    await sleep(1500); // time for code actions to come back: no light bulb on prose
    seen.lightbulbOnProse = await lightbulb().isVisible();
    await page.keyboard.type(g.typed, { delay: 60 });
    // The last request wins: wait until the ghost text has stayed the same for a moment.
    let last = '';
    let since = Date.now();
    seen.ghost = await until('ghost text', async () => {
      const now = await ghostText();
      if (now !== last) [last, since] = [now, Date.now()];
      return now && Date.now() - since > 1500 ? now : null;
    }, 60000);
    await shoot('03-ghost-text');
  });

  await step('Tab accepts the ghost text; Ctrl+S saves it', async () => {
    await page.keyboard.press('Tab');
    await until('the ghost text to go', async () => !(await ghostText()), 5000);
    seen.ghostFileText = await saveAndRead(g.file, g.typed + seen.ghost);
    await shoot('04-accepted');
  });

  const e = given.explain;
  await step('Galactica: Explain formula inserts the explanation', async () => {
    await openFile(path.basename(e.file));
    await goTo(e.line, e.column);
    seen.lightbulbOnFormula = await lightbulb().waitFor({ timeout: 5000 }).then(() => true, () => false);
    if (!seen.lightbulbOnFormula) { // what the gutter holds instead, for the report
      seen.gutter = await page.evaluate(() => [...document.querySelectorAll(
        '.monaco-editor .glyph-margin-widgets *, .monaco-editor .margin-view-overlays *, .monaco-editor [class*="light"]')]
        .map((e) => `${e.className} focused=${!!e.closest('.monaco-editor.focused')}`));
    }
    await runCommand('Galactica: Explain formula');
    seen.explainFileText = await until('the explanation in the editor',
      () => page.locator('.monaco-editor.focused .view-lines', { hasText: e.marker }).count(), 60000)
      .then(() => saveAndRead(e.file, e.marker));
    await shoot('05-explained');
  });

  const c = given.cite;
  await step('Galactica: Suggest citations here shows a quick pick; Enter inserts the first', async () => {
    await openFile(path.basename(c.file));
    await goTo(c.line, c.column);
    await runCommand('Galactica: Suggest citations here');
    const rows = page.locator('.quick-input-list .monaco-list-row');
    await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Cite' }).waitFor({ timeout: 60000 });
    await rows.first().waitFor({ timeout: 10000 });
    await sleep(300);
    seen.citeItems = await rows.evaluateAll((els) => els.map((el) => ({
      label: el.querySelector('.label-name')?.textContent ?? '',
      description: el.querySelector('.label-description')?.textContent ?? '',
      detail: el.querySelector('.quick-input-list-label-meta, .monaco-icon-label-container + div, .quick-input-list-detail')?.textContent
        ?? el.textContent,
      aria: el.getAttribute('aria-label'),
    })));
    await shoot('06-cite-quick-pick');
    await page.keyboard.press('Enter');
    seen.citeFileText = await saveAndRead(c.file, '[@');
    await shoot('07-cited');
  });

  await step('clicking the status bar item shows the server status as JSON', async () => {
    await statusItem().click();
    await page.locator('.tabs-container .tab', { hasText: 'Galactica status.json' }).waitFor({ timeout: 15000 });
    await page.locator('.monaco-editor .view-lines', { hasText: '"state"' }).first().waitFor({ timeout: 15000 });
    seen.statusDocument = (await page.locator('.monaco-editor .view-lines', { hasText: '"state"' }).first().innerText())
      .replace(/\u00a0/g, ' ');
    await shoot('08-status');
  });
} catch (error) {
  seen.error = String(error?.stack ?? error);
  await page.screenshot({ path: path.join(out, 'error.png') }).catch(() => {});
  seen.notifications = await page.locator('.notifications-toasts .notification-list-item').allInnerTexts().catch(() => []);
} finally {
  seen.seconds = (Date.now() - started) / 1000;
  save();
  await browser.close();
}
process.exit(seen.error ? 1 : 0);
