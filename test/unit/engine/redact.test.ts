import { expect } from 'chai';
import { redactText, redactValue } from '../../../engine/redact.js';

describe('redaction', () => {
  it('masks URL passwords, key=value secrets, AWS keys and bearer tokens in text', () => {
    expect(redactText('postgres://sluice:p4ss@db:5432/x')).to.equal('postgres://sluice:***@db:5432/x');
    expect(redactText('s3://b/p?secret_access_key=abc&region=us')).to.equal('s3://b/p?secret_access_key=***&region=us');
    expect(redactText('password=hunter2 user=me')).to.equal('password=*** user=me');
    expect(redactText('PGPASSWORD: "a b"')).to.equal('PGPASSWORD: ***');
    expect(redactText('key AKIAABCDEFGHIJKLMNOP used')).to.equal('key *** used');
    expect(redactText('Authorization: Bearer abcdefghijkl')).to.equal('Authorization: Bearer ***');
    expect(redactText('aws_session_token=IQoJb3JpZ2luX2Vj')).to.equal('aws_session_token=***');
  });

  it('leaves ordinary text alone', () => {
    const s = 'password authentication failed for user "sluice"; table users key user_id';
    expect(redactText(s)).to.equal(s);
    expect(redactText('https://example.test/path')).to.equal('https://example.test/path');
  });

  it('masks secret-named keys deep inside values, and errors', () => {
    const v = redactValue({
      user: 'me',
      password: 'x',
      nested: [{ apiKey: 'k', token: 't', key: ['user_id'] }],
      url: 'redshift://u:pw@h:5439/d',
    });
    expect(v).to.deep.equal({
      user: 'me',
      password: '***',
      nested: [{ apiKey: '***', token: '***', key: ['user_id'] }],
      url: 'redshift://u:***@h:5439/d',
    });
    const e = redactValue(new Error('failed for postgres://u:pw@h/d'));
    expect(e.message).to.equal('failed for postgres://u:***@h/d');
  });
});
