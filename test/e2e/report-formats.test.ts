/**
 * `sluice report --format html|junit|json|text --out` through the real CLI
 * on real runs, and the HTML page opened in real headless Chromium (Debian's
 * `chromium`, driven by playwright-core; never a downloaded browser):
 * what a reader sees (the checks table with the failing check highlighted, a
 * chart per table, a history per check), that nothing from the data runs as
 * markup and that the page fetches nothing. The screenshot is kept under
 * test-artifacts/report/ (gitignored).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLValidator } from 'fast-xml-parser';
import { Project, ROOT } from '../helpers/cli.js';
import { REPORT_DAG, REPORT_DAYS } from '../fixtures/report-operators.js';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'report-operators.ts');
const CHROMIUM = process.env.SLUICE_TEST_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'report');

describe('sluice report formats through the CLI, the HTML page in headless Chromium', function () {
  this.timeout(180_000);
  let p: Project;
  before(() => {
    p = new Project({ SLUICE_PLUGINS: FIXTURE });
    p.write('dags/dq.yaml', REPORT_DAG);
    for (const day of REPORT_DAYS) {
      const r = p.run(['run-dag', 'dq', '--date', day]);
      expect(r.code, r.stdout + r.stderr).to.equal(day === '2024-01-03' ? 1 : 0);
    }
  });
  after(() => p?.remove());

  it('writes each format whole with --out, exits 1 for the failed run and 0 for a good one, refuses bad options', () => {
    const html = p.run(['report', 'dq', '--format', 'html', '--out', 'report.html', '--last', '10']);
    expect(html.code, html.stderr).to.equal(1);
    expect(html.stdout).to.equal('');
    expect(html.stderr).to.match(/written to report\.html \(html, [\d,]+ bytes\)/);
    const page = fs.readFileSync(path.join(p.dir, 'report.html'), 'utf8');
    expect(page).to.match(/^<!DOCTYPE html>/);
    // self-contained: no script, no external reference of any kind
    expect(page).not.to.match(/<(script|link|img|iframe|object|embed)\b|url\(|@import|https?:\/\/(?!www\.w3\.org\/2000\/svg)/i);
    expect(fs.readdirSync(p.dir).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);

    const junit = p.run(['report', 'dq', '--format', 'junit', '--out', 'dq.xml']);
    expect(junit.code).to.equal(1);
    expect(XMLValidator.validate(fs.readFileSync(path.join(p.dir, 'dq.xml'), 'utf8'))).to.equal(true);

    const good = p.run(['report', 'dq', '--date', '2024-01-02', '--format', 'junit']);
    expect(good.code, good.stderr).to.equal(0);
    expect(good.stdout).to.match(/<testsuite name="dq\.quality" tests="4" failures="0" errors="0" skipped="0"/);

    const json = p.run(['report', 'dq', '--format', 'json', '--last', '2']);
    expect(json.code).to.equal(1);
    const r = JSON.parse(json.stdout) as { history: { runs: unknown[] }; checks_failed: number };
    expect(r.history.runs).to.have.length(2);
    expect(r.checks_failed).to.equal(1);
    expect(p.run(['report', 'dq', '--json']).stdout).to.equal(p.run(['report', 'dq', '--format', 'json']).stdout);

    const text = p.run(['report', 'dq'], { env: { NO_COLOR: '', FORCE_COLOR: '1' } });
    expect(text.stdout).to.match(/songplays_in_interval\s+error\s+FAIL\s+0/);
    expect(text.stdout).not.to.contain('\x1b['); // not a TTY: never coloured

    const bad = p.run(['report', 'dq', '--format', 'pdf']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain("--format 'pdf' is unknown: use text, json, junit, html");
    const last = p.run(['report', 'dq', '--last', '0']);
    expect(last.code).to.equal(2);
    expect(last.stderr).to.contain('--last');
    const nowhere = p.run(['report', 'dq', '--format', 'html', '--out', 'no/such/dir/r.html']);
    expect(nowhere.code).to.equal(2);
    expect(nowhere.stderr).to.contain('does not exist');
  });

  it('shows the checks, a chart per table and the failing check highlighted in Chromium, runs no injected markup', async function () {
    if (!fs.existsSync(CHROMIUM)) {
      console.log(`      (skipped: ${CHROMIUM} is not installed; apt-get install -y chromium)`);
      this.skip();
    }
    const out = p.run(['report', 'dq', '--format', 'html', '--out', 'page.html']);
    expect(out.code, out.stderr).to.equal(1);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      // JavaScript off, as a reader with scripts disabled has it: the page must not need any.
      const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const requests: string[] = [];
      page.on('request', (req) => requests.push(req.url()));
      const url = `file://${path.join(p.dir, 'page.html')}`;
      await page.goto(url);
      expect(requests).to.deep.equal([url]);
      expect(await page.title()).to.match(/^dq .*: failed, 1 failed$/);

      const rows = page.locator('table.checks tbody tr.check');
      expect(await rows.count()).to.equal(4);
      const failing = page.locator('tr.check[data-status="fail"]');
      expect(await failing.count()).to.equal(1);
      expect(await failing.locator('td').nth(1).innerText()).to.equal('songplays_in_interval');
      const bg = await failing.evaluate((el) => el.ownerDocument.defaultView!.getComputedStyle(el).backgroundColor);
      expect(bg).to.equal('rgb(253, 236, 234)');
      const passRow = page.locator('tr.check[data-status="pass"]');
      expect(await passRow.evaluate((el) => el.ownerDocument.defaultView!.getComputedStyle(el).backgroundColor)).to.equal(
        'rgba(0, 0, 0, 0)',
      );
      // observed vs expected in the row; the sample rows (folded) show the markup as text
      expect(await failing.innerText()).to.contain('>= 1');
      await failing.locator('details summary').click();
      expect(await failing.locator('table.sample').innerText()).to.contain('<script>alert(1)</script>');
      expect(await page.locator('table.checks').getByText('schema<b>odd</b>').count()).to.equal(1);

      // one row-count chart per table, each an SVG with a point per run
      const charts = page.locator('figure.table-chart');
      expect(await charts.count()).to.equal(3);
      expect(await charts.evaluateAll((fs) => fs.map((f) => f.getAttribute('data-table')).sort())).to.deep.equal([
        'odd<svg onload=alert(1)>&name',
        'songplays',
        'users',
      ]);
      for (let i = 0; i < 3; i++) {
        const svg = charts.nth(i).locator('svg.chart');
        expect(await svg.count()).to.equal(1);
        expect(await svg.locator('circle').count()).to.equal(3);
        const box = await svg.boundingBox();
        expect(box!.width).to.be.greaterThan(200);
      }
      // a history per check, the failing one marked
      expect(await page.locator('figure.check-chart').count()).to.equal(4);
      expect(await page.locator('figure.check-chart.failing').getAttribute('data-check')).to.equal('songplays_in_interval');
      // nothing from the data became an element
      expect(await page.locator('script, img, main svg svg').count()).to.equal(0);
      expect(await page.locator('#timeline svg rect.bar').count()).to.equal(4);

      fs.mkdirSync(ARTIFACTS, { recursive: true });
      const shot = path.join(ARTIFACTS, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      fs.copyFileSync(path.join(p.dir, 'page.html'), path.join(ARTIFACTS, 'report.html'));
      expect(fs.statSync(shot).size).to.be.greaterThan(10_000);

      // with JavaScript on, the injected handlers still never run
      const js = await browser.newContext();
      const jsPage = await js.newPage();
      await jsPage.goto(url);
      expect(await jsPage.title()).not.to.contain('pwned');
      expect(await jsPage.evaluate('document.querySelectorAll("script, img").length')).to.equal(0);
    } finally {
      await browser.close();
    }
  });
});
