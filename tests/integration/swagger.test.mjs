// Swagger UI in a real browser (issue 13, Deliver 8): headless Chromium
// (Debian's `chromium`, scripts/install-deps.sh) driven by playwright-core
// opens /swagger-ui, expands GET /health, clicks "Try it out" and "Execute",
// and the response panel shows 200 and the health JSON. Headless: no
// display is needed. Skipped, saying why, only when chromium or
// playwright-core is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startServer } from './lib.mjs';

const CHROMIUM = process.env.VMDB_CHROMIUM || '/usr/bin/chromium';
let chromium = null;
let why = null;
if (!fs.existsSync(CHROMIUM)) why = `${CHROMIUM} not installed (apt-get install chromium; scripts/install-deps.sh does)`;
else {
  try { ({ chromium } = await import('playwright-core')); } catch { why = 'playwright-core not installed (npm ci at the repository root)'; }
}

test('Swagger UI loads in headless Chromium and "Try it out" on GET /health answers 200', { skip: why || false, timeout: 120_000 }, async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  // As root Chromium needs --no-sandbox; headless needs no display.
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${srv.url}/swagger-ui`, { waitUntil: 'load', timeout: 60_000 });
  // The operations list, rendered from /api-docs/openapi.json.
  const op = page.locator('.opblock-get').filter({ has: page.locator('.opblock-summary-path', { hasText: /^\/health$/ }) }).first();
  await op.waitFor({ state: 'visible', timeout: 60_000 });
  assert.ok(await page.locator('.opblock').count() > 10, 'the operations are listed');
  await op.locator('.opblock-summary').first().click();
  await op.getByRole('button', { name: 'Try it out' }).click();
  await op.getByRole('button', { name: 'Execute' }).click();
  const live = op.locator('.live-responses-table .response .response-col_status').first();
  await live.waitFor({ state: 'visible', timeout: 30_000 });
  assert.equal((await live.innerText()).trim(), '200');
  const body = await op.locator('.live-responses-table .response-col_description pre.microlight, .live-responses-table .response-col_description pre').first().innerText();
  const json = JSON.parse(body);
  assert.equal(json.success, true);
  assert.equal(json.data.status, 'ok');
  assert.match(json.data.temporary_root, /^[0-9a-f]{64}$/);
  assert.deepEqual(errors, [], 'no script errors on the page');
});
