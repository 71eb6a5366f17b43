// Browser test of `hoso ui` (driven by tests/cli/ui.sh): Debian's chromium,
// headless, through playwright-core — never a downloaded browser.
// Env: HOSO_UI_URL, KEYS (folder with rcv.key, spec.key, lead.key),
// PASS (their passphrase), OUT (folder for receipt.pdf), ARTIFACTS.
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';

const url = process.env.HOSO_UI_URL;
const keys = process.env.KEYS;
const pass = process.env.PASS;
const out = process.env.OUT;
const artifacts = process.env.ARTIFACTS;
const t0 = Date.now();
const step = (s) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}`);
function check(cond, what) { if (!cond) throw new Error('FAIL: ' + what); }

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update'],
});
let failed = false;
try {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 }, locale: 'vi-VN' });
  const page = await ctx.newPage();
  page.setDefaultTimeout(10000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // The desk never talks to anything but itself.
  await ctx.route('**/*', (r) => (r.request().url().startsWith(url) ? r.continue() : r.abort()));

  const signIn = async (who) => {
    await page.setInputFiles('#signin-key', `${keys}/${who}.key`);
    await page.fill('#signin-pass', pass);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#top:not([hidden])');
  };
  const signOut = async () => {
    await page.click('#signout');
    await page.waitForSelector('#signin-pass');
  };
  const openDossier = async (code) => {
    await page.goto(`${url}#/d/${encodeURIComponent(code)}`);
    await page.waitForSelector('#dossier-code');
  };
  const act = async (action, note) => {
    if (note !== undefined) await page.fill('#act-note', note);
    const before = await page.locator('#timeline tbody tr').count();
    await page.click(`[data-action="${action}"]`);
    await page.waitForFunction((n) => document.querySelectorAll('#timeline tbody tr').length === n + 1, before);
  };

  await page.goto(url);
  step('sign-in with a wrong passphrase is refused');
  await page.setInputFiles('#signin-key', `${keys}/rcv.key`);
  await page.fill('#signin-pass', 'wrong-passphrase');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#signin-error')?.textContent.length > 0);
  check(await page.locator('#top').isHidden(), 'menu hidden after a failed sign-in');

  step('sign in as the receiving officer');
  await page.fill('#signin-pass', pass);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#top:not([hidden])');
  check((await page.textContent('#officer-name')).includes('A rcv'), 'officer name shown');

  step('intake with the keyboard: procedure search, applicant, fields, a dropped attachment');
  await page.keyboard.press('Alt+2');
  await page.waitForSelector('#intake-proc-q');
  await page.keyboard.type('khai sinh');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#intake-applicant:focus');
  await page.keyboard.type('Nguyễn Văn An');
  await page.fill('#field-cccd', '001201000001');
  await page.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['%PDF-1.4 scan of the birth form'], 'to-khai.pdf', { type: 'application/pdf' }));
    document.querySelector('#intake-drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  check((await page.textContent('#intake-file-list')).includes('to-khai.pdf'), 'dropped file listed');
  await page.click('#intake-submit');
  await page.waitForSelector('#dossier-code');
  const code = (await page.textContent('#dossier-code')).trim();
  check(/^000\.00\.31\.H12-260302-\d{4}$/.test(code), 'dossier code ' + code);
  check((await page.textContent('#dossier-files')).includes('to-khai.pdf'), 'attachment stored');
  step('received ' + code);

  step('print the receipt (form 01) to PDF');
  const slip = await ctx.newPage();
  await slip.goto(`${url}forms/01/${encodeURIComponent(code)}`);
  check(await slip.locator('.qr svg').count() === 1, 'QR code on the receipt');
  await slip.pdf({ path: `${out}/receipt.pdf`, format: 'A4', printBackground: true });
  await slip.close();

  step('receive: a refusal needs a note; accept');
  await page.click('[data-action="reject"]');
  check((await page.textContent('#act-error')).length > 0, 'reject without a note refused in the page');
  await act('accept');
  // At the specialist's step the receiver may only withdraw the dossier (at the applicant's request).
  const left = await page.locator('#dossier-actions [data-action]').evaluateAll((bs) => bs.map((b) => b.dataset.action));
  check(JSON.stringify(left) === '["withdraw"]', 'receiver actions at review: ' + JSON.stringify(left));
  await signOut();

  step('specialist: inbox (screenshot), approve');
  await signIn('spec');
  await page.waitForSelector(`tr[data-code="${code}"]`);
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: `${artifacts}/ui-inbox.png` });
  await page.click(`tr[data-code="${code}"] a`);
  await page.waitForSelector('#dossier-code');
  await act('approve');
  await signOut();

  step('leader: send back with a note');
  await signIn('lead');
  await openDossier(code);
  await page.click('[data-action="send_back"]');
  check((await page.textContent('#act-error')).length > 0, 'send_back without a note refused');
  await act('send_back', 'Thiếu chữ ký người khai');
  await signOut();

  step('specialist approves again, leader signs, receiver delivers');
  await signIn('spec');
  await openDossier(code);
  await act('approve');
  await signOut();
  await signIn('lead');
  await openDossier(code);
  await act('approve');
  await signOut();
  await signIn('rcv');
  await openDossier(code);
  await act('deliver');
  check((await page.textContent('#dossier-status')).includes('Đã trả kết quả'), 'status returned');
  const rows = await page.locator('#timeline tbody tr').count();
  check(rows === 7, 'seven signed steps, got ' + rows);
  check(await page.locator('#timeline .b-bad').count() === 0, 'every signature verified');
  check((await page.textContent('#timeline')).includes('Thiếu chữ ký người khai'), 'note in the timeline');
  await page.screenshot({ path: `${artifacts}/ui-dossier.png` });

  step('search without diacritics');
  await page.keyboard.press('Alt+3');
  await page.waitForSelector('#search-q');
  await page.keyboard.type('nguyen van an');
  await page.keyboard.press('Enter');
  await page.waitForSelector(`#search-results tr[data-code="${code}"]`);

  step('sync now: pending events go to the province');
  await page.keyboard.press('Alt+4');
  await page.waitForSelector('#sync-now');
  check((await page.textContent('#sync-pending')).trim() === '7', 'seven events pending before sync');
  await page.click('#sync-now');
  await page.waitForFunction(() => document.querySelector('#sync-pending')?.textContent.trim() === '0' &&
    !document.querySelector('#sync-now').disabled, null, { timeout: 20000 });
  check(await page.locator('#sync-error').count() === 0, 'no sync error');
  check(/\d\d:\d\d \d\d\/\d\d\/\d{4}/.test(await page.textContent('#sync-last')), 'last sync time shown');

  step('English is available');
  await page.click('#lang');
  await page.waitForFunction(() => document.querySelector('nav a').textContent === 'My tasks');
  check(errors.length === 0, 'no script errors: ' + errors.join('; '));
  console.log('CODE=' + code);
} catch (e) {
  failed = true;
  console.error(e.stack || String(e));
} finally {
  await browser.close();
}
step(failed ? 'failed' : 'passed');
process.exit(failed ? 1 : 0);
