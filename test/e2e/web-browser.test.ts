import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { Project, ROOT } from '../helpers/cli.js';
import { startWeb, type RunningWeb } from '../helpers/web.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'test-artifacts', 'web');

const DAG = `
dag: songs
description: stage, load, check (test operators)
schedule: "@daily"
start_date: 2024-01-01
tasks:
  wait: { operator: Sleep, ms: 1500 }
  stage: { operator: Succeed, upstream: [wait] }
  load: { operator: Echo, upstream: [stage], message: "loaded {{ ds }}" }
  check: { operator: Fail, upstream: [load], times: 1, retries: 1, retry_delay: 0s, message: "row count check failed" }
`;

describe('the web UI in headless Chromium', function () {
  this.timeout(180_000);
  let p: Project;
  let web: RunningWeb;

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) {
      console.log(`    (skipped: no Chromium at ${CHROMIUM}; apt-get install -y chromium)`);
      this.skip();
    }
    p = new Project();
    p.write('dags/songs.yaml', DAG);
    web = await startWeb(p);
    fs.mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    await web?.stop();
    p?.remove();
  });

  it('opens the DAG list, logs in, triggers a date, sees the run finish, opens a task log and searches it', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
      await page.goto(web.url + '/');
      await page.getByRole('link', { name: 'songs', exact: true }).waitFor();
      await shot('01-dag-list');

      await page.getByRole('link', { name: 'log in to act' }).click();
      await page.fill('input[name="token"]', web.token!);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('link', { name: 'songs', exact: true }).click();
      await page.fill('#trigger input[name="date"]', '2024-03-05');
      await page.getByRole('button', { name: 'Trigger' }).click();
      await page.waitForURL(/\/runs\/songs__manual__2024-03-05T00%3A00%3A00Z/);
      // the run page updates itself in place over server-sent events while the run goes on: no reload
      expect(await page.locator('main').getAttribute('data-live')).to.match(/\/events\?v=/);
      await page.locator('svg.graph g[data-task="wait"] rect.st-running').waitFor();
      await shot('02a-run-live');
      await page.evaluate(() => ((globalThis as unknown as { loadedOnce: number }).loadedOnce = 1));
      await page.locator('#run-state .st-success').waitFor({ timeout: 60_000 });
      expect(await page.evaluate(() => (globalThis as unknown as { loadedOnce?: number }).loadedOnce)).to.equal(1);
      expect(await page.locator('main').getAttribute('data-updated')).to.match(/^\d+$/);
      expect(await page.locator('main').getAttribute('data-live')).to.equal(null);
      expect(await page.locator('#tasks').innerText()).to.match(/check\s+Fail\s+success\s+2\/2/);
      // the graph: every task, coloured by its state, edges between them
      for (const t of ['wait', 'stage', 'load', 'check'])
        await page.locator(`svg.graph g[data-task="${t}"] rect.st-success`).waitFor({ state: 'attached' });
      expect(await page.locator('svg.graph path.edge').count()).to.equal(3);
      await shot('02-run');

      await page.getByRole('link', { name: 'check', exact: true }).click();
      await page.locator('#tries').waitFor();
      await page.getByRole('link', { name: '1', exact: true }).click(); // the failed first try
      await page.fill('#search input[name="q"]', 'about to');
      await page.getByRole('button', { name: 'Search' }).click();
      const count = await page.locator('#match-count').innerText();
      expect(count).to.match(/^1 match in \d+ lines$/);
      expect(await page.locator('#log mark').first().innerText()).to.equal('about to');
      await shot('03-task-log-search');

      // clear `load` with its downstream: the confirmation lists the task instances, then the run goes again
      await page.goto(web.url + '/runs/' + encodeURIComponent('songs__manual__2024-03-05T00:00:00Z'));
      await page.check('input[name="task"][value="load"]');
      await page.check('#clear input[name="downstream"]');
      await page.getByRole('button', { name: 'Clear…' }).click();
      expect(await page.locator('#affected').innerText()).to.match(/load\s+success\s+check\s+success/);
      await shot('04-clear-confirm');
      await page.locator('#confirm-clear').click();
      await page.locator('#run-state .st-success').waitFor({ timeout: 60_000 });
      expect(await page.locator('#tasks').innerText()).to.match(/load\s+Echo\s+success\s+2\/2/);

      // mark two task instances by hand (multi-select): failed, then success again; the run follows its tasks
      for (const state of ['failed', 'success']) {
        await page.check('input[name="task"][value="stage"]');
        await page.check('input[name="task"][value="load"]');
        await page.locator(`#mark-${state}`).click();
        expect(await page.locator('#affected').innerText()).to.match(/stage\s+\S+\s+load\s+\S+/);
        if (state === 'failed') await shot('04b-mark-confirm');
        await page.locator('#confirm-mark').click();
        await page.locator('.flash').waitFor();
        const tasks = await page.locator('#tasks').innerText();
        expect(tasks).to.match(new RegExp(`stage\\s+Succeed\\s+${state}`));
        expect(tasks).to.match(new RegExp(`load\\s+Echo\\s+${state}`));
        expect(tasks).to.match(/check\s+Fail\s+success/);
        await page.locator(`#run-state .st-${state}`).waitFor();
      }
      await shot('04c-tasks-marked');

      await page.goto(web.url + '/dags/songs');
      await page.locator('table.grid').waitFor();
      await shot('05-dag-grid');
      await page.goto(web.url + '/source/songs.yaml');
      await shot('06-dag-source');
    } finally {
      await browser.close();
    }
  });
});
