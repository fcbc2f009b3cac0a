/**
 * The `sql_literal` and `sql_ident` Liquid filters: what they render, and that
 * the rendered literals read back as the exact value on a real database —
 * PGlite, and a PostgreSQL server with standard_conforming_strings on and
 * off (off is how Redshift reads backslashes in '...' literals).
 */
import { expect } from 'chai';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { TemplateError } from '../../../engine/errors.js';
import { buildContext, render } from '../../../engine/template/index.js';
import { usePostgres } from '../../helpers/postgres.js';

function ctx(params: Record<string, unknown>, dialect = 'postgres') {
  return buildContext({
    dagId: 'd',
    runId: 'r',
    logicalDate: new Date('2018-11-21T00:00:00Z'),
    dataIntervalStart: new Date('2018-11-21T00:00:00Z'),
    dataIntervalEnd: new Date('2018-11-22T00:00:00Z'),
    dagParams: params,
    conf: {},
    conn: {},
    dialect,
  });
}

const lit = (v: unknown, dialect = 'postgres') => render('{{ params.v | sql_literal }}', ctx({ v }, dialect), 'test');
const ident = (v: unknown) => render('{{ params.v | sql_ident }}', ctx({ v }), 'test');

/** Strings that break naive quoting. */
const NASTY = [
  "O'Reilly",
  "x'); DROP TABLE users; --",
  'back\\slash',
  "\\'; DROP TABLE users; --",
  'trailing\\',
  "it''s \\\\ both",
  'line\nbreak\ttab',
  'Ünïcödé ✓ 日本',
  '$$dollar$$',
  '',
];

describe('template filters: sql_literal and sql_ident', () => {
  describe('sql_literal renders', () => {
    it('strings single-quoted with quotes doubled; E-strings on PostgreSQL when a backslash is present', async () => {
      expect(await lit("O'Reilly")).to.equal("'O''Reilly'");
      expect(await lit('a\\b')).to.equal("E'a\\\\b'");
      expect(await lit('a\\b', 'redshift')).to.equal("'a\\\\b'");
      expect(await lit("O'Reilly", 'redshift')).to.equal("'O''Reilly'");
    });

    it('numbers, booleans and null as SQL literals (negative numbers parenthesised)', async () => {
      expect(await lit(42)).to.equal('42');
      expect(await lit(1.5)).to.equal('1.5');
      expect(await lit(-5)).to.equal('(-5)');
      expect(await lit(true)).to.equal('TRUE');
      expect(await lit(false)).to.equal('FALSE');
      expect(await lit(null)).to.equal('NULL');
    });

    it('dates as UTC TIMESTAMP literals, keeping milliseconds', async () => {
      expect(await render('{{ data_interval_start | sql_literal }}', ctx({}), 't')).to.equal("TIMESTAMP '2018-11-21 00:00:00'");
      expect(await lit(new Date('2018-11-21T10:20:30.045Z'))).to.equal("TIMESTAMP '2018-11-21 10:20:30.045'");
    });

    it('lists as comma-separated literals for IN (...)', async () => {
      expect(await lit(['free', "pa'id", 3])).to.equal("'free', 'pa''id', 3");
    });

    it('refuses what has no safe literal: NUL bytes, NaN, mappings, empty lists', async () => {
      for (const [v, why] of [
        ['a\u0000b', /NUL/],
        [Number.NaN, /finite/],
        [{ a: 1 }, /mapping/],
        [[], /empty list/],
      ] as const) {
        const err = await lit(v).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err, String(v)).to.be.instanceOf(TemplateError);
        expect((err as Error).message).to.match(why);
        expect((err as Error).message).to.contain('sql_literal');
      }
    });
  });

  describe('sql_ident renders', () => {
    it('validated identifiers, double-quoted (schema.name keeps its dot)', async () => {
      expect(await ident('songplays')).to.equal('"songplays"');
      expect(await ident('public.songplays')).to.equal('"public"."songplays"');
    });

    it('refuses anything that is not an identifier', async () => {
      for (const v of ['users"; DROP TABLE users; --', '', 'a b', '1abc', 'a.b.c', 5]) {
        const err = await ident(v).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err, String(v)).to.be.instanceOf(TemplateError);
        expect((err as Error).message).to.contain('sql_ident');
      }
    });
  });

  describe('round trip on real databases', function () {
    this.timeout(60_000);
    const pgh = usePostgres('sqlfilters');

    it('PGlite reads every rendered literal back as the exact string', async () => {
      const db = new PGlite();
      try {
        for (const s of NASTY) {
          const res = await db.query<{ v: string; n: number }>(`SELECT ${await lit(s)} AS v, 1 AS n`);
          expect(res.rows, JSON.stringify(s)).to.deep.equal([{ v: s, n: 1 }]);
        }
      } finally {
        await db.close();
      }
    });

    for (const scs of ['on', 'off']) {
      it(`PostgreSQL with standard_conforming_strings ${scs} reads them back exactly (postgres and redshift forms)`, async () => {
        const client = new pg.Client({ connectionString: pgh.url });
        await client.connect();
        try {
          await client.query(`SET standard_conforming_strings = ${scs}`);
          await client.query('SET escape_string_warning = off');
          for (const s of NASTY) {
            const pgForm = await client.query(`SELECT ${await lit(s)} AS v, 1 AS n`);
            expect(pgForm.rows, JSON.stringify(s)).to.deep.equal([{ v: s, n: 1 }]);
            // Redshift reads backslashes as escapes in '...' (like standard_conforming_strings off).
            if (scs === 'off') {
              const rs = await client.query(`SELECT ${await lit(s, 'redshift')} AS v, 1 AS n`);
              expect(rs.rows, `redshift form of ${JSON.stringify(s)}`).to.deep.equal([{ v: s, n: 1 }]);
            }
          }
          const d = await client.query(`SELECT ${await lit(new Date('2018-11-21T10:20:30.045Z'))} AS v`);
          expect(d.rows[0].v).to.be.instanceOf(Date);
        } finally {
          await client.end();
        }
      });
    }
  });
});
