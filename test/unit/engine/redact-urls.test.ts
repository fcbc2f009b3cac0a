/**
 * URL passwords holding reserved characters are masked
 * whole, in a URL alone and inside longer messages; the advice in messages
 * is not mangled by the key=value rule.
 */
import { expect } from 'chai';
import { redactText, registerSecret } from '../../../engine/redact.js';
import { parseConnectionUrl, redactUrl } from '../../../engine/connections/url.js';
import { parseRedshiftUrl } from '../../../engine/connections/warehouse/redshift/redshift-url.js';

const PASSWORDS = [
  'Se/Cr3tX',
  'Se?Cr3tX',
  'Se#Cr3tX',
  'Se@Cr3tX',
  'Se:Cr3tX',
  'Se%Cr3tX',
  'Se Cr3tX',
  'Sé€Cr3tX',
  'a@b@Cr3tX',
  '/?#@:%Cr3tX',
];

describe('redaction of URL passwords with reserved characters', () => {
  for (const pw of PASSWORDS) {
    it(`masks the whole password ${JSON.stringify(pw)}`, () => {
      const url = `postgres://u:${pw}@db.example:5432/x?sslmode=require`;
      expect(redactUrl(url)).to.equal('postgres://u:***@db.example:5432/x?sslmode=require');
      if (!pw.includes(' ')) {
        // inside a longer message, and several URLs in one line
        const msg = `cannot connect to ${url}: ECONNREFUSED (also tried redshift://v:${pw}@[::1]:5439/d).`;
        const out = redactText(msg);
        expect(out).to.equal(
          'cannot connect to postgres://u:***@db.example:5432/x?sslmode=require: ECONNREFUSED (also tried redshift://v:***@[::1]:5439/d).',
        );
      }
    });
  }

  it('a malformed URL is reported without its password, with the fix', () => {
    for (const pw of ['Se/Cr3tX', 'Se#Cr3tX', 'Se?Cr3tX']) {
      const err = (() => {
        try {
          parseConnectionUrl(`postgres://u:${pw}@db:5432/x`, { home: '/' });
        } catch (e) {
          return e as Error;
        }
        return null;
      })();
      if (err === null) continue; // parsed (a '#' or '?' after a numeric-looking port parses): redaction is still checked above
      expect(err.message).not.to.include('Cr3tX');
      expect(err.message).to.include('percent-encode').and.include('postgres://u:***@db:5432/x');
    }
    expect(() => parseRedshiftUrl('redshift://u:Se/Cr3tX@h:5439/db'))
      .to.throw(/percent-encode/)
      .with.property('message')
      .that.does.not.include('Cr3tX');
  });

  it('registered secrets are masked wherever they appear, also without a URL around them', () => {
    registerSecret('Xy9 spaced secret');
    expect(redactText('login failed for "Xy9 spaced secret" at 10:00')).to.equal('login failed for "***" at 10:00');
    registerSecret('abc'); // too short to register: would garble every line
    expect(redactText('abcdef')).to.equal('abcdef');
  });

  it('leaves URLs without a password and advice text readable', () => {
    for (const s of [
      'redshift://dwh@h:5439/db?password_env=REDSHIFT_PASSWORD',
      's3://bucket/users/a@b.com/file.json',
      'the state DB stores no secrets: use a reference such as ?password_env=VAR (redshift)',
      'see https://example.test/path?a=b#frag',
    ]) {
      expect(redactText(s)).to.equal(s);
    }
    expect(redactText('(see redshift://u@h:5439/db?password=abc); next')).to.equal(
      '(see redshift://u@h:5439/db?password=***); next',
    );
    expect(redactText('password=hunter2 user=me')).to.equal('password=*** user=me');
  });
});
