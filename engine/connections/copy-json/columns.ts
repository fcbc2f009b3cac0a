/**
 * What a COPY JSON load converts into: the data-conversion options (with
 * Redshift's names and defaults) and the target columns, each mapped to the
 * kind of conversion its type needs.
 */
import { compileFormat } from './datetime.js';

/** The COPY data-conversion options the converter follows (Redshift's names). */
export interface ConvertOptions {
  /** 'auto', 'epochsecs', 'epochmillisecs' or a format string. */
  timeformat: string;
  /** 'auto' or a format string. */
  dateformat: string;
  roundec: boolean;
  truncatecolumns: boolean;
  /** Replacement for invalid UTF-8, or null to reject it. */
  acceptinvchars: string | null;
}

/** Options with Redshift's defaults filled in. */
export function convertOptions(timeformat: string, more: Partial<Omit<ConvertOptions, 'timeformat'>> = {}): ConvertOptions {
  return {
    timeformat,
    dateformat: more.dateformat ?? 'YYYY-MM-DD',
    roundec: more.roundec ?? false,
    truncatecolumns: more.truncatecolumns ?? false,
    acceptinvchars: more.acceptinvchars ?? null,
  };
}

/**
 * Why a TIMEFORMAT / DATEFORMAT / ACCEPTINVCHARS value cannot be used, or
 * null when it can: checked when a DAG is validated and again before a load.
 */
export function checkConvertOptions(o: Partial<ConvertOptions>): string | null {
  if (o.timeformat !== undefined && !/^(auto|epochsecs|epochmillisecs)$/i.test(o.timeformat)) {
    const f = compileFormat(o.timeformat);
    if (typeof f === 'string') return `timeformat: ${f}; or use 'auto', 'epochsecs' or 'epochmillisecs'`;
  }
  if (o.dateformat !== undefined && !/^auto$/i.test(o.dateformat)) {
    if (/^epoch/i.test(o.dateformat)) return `dateformat: ${o.dateformat} is a TIMEFORMAT only; use 'auto' or a format string`;
    const f = compileFormat(o.dateformat);
    if (typeof f === 'string') return `dateformat: ${f}; or use 'auto'`;
  }
  if (o.acceptinvchars !== undefined && o.acceptinvchars !== null) {
    if (Buffer.byteLength(o.acceptinvchars, 'utf8') !== 1 || o.acceptinvchars === '\u0000') {
      return `acceptinvchars: the replacement must be one ASCII character other than NUL, not ${JSON.stringify(o.acceptinvchars)}`;
    }
  }
  return null;
}

export type ColumnKind =
  | 'text'
  | 'smallint'
  | 'integer'
  | 'bigint'
  | 'numeric'
  | 'real'
  | 'double'
  | 'boolean'
  | 'timestamp'
  | 'timestamptz'
  | 'date'
  | 'json'
  | 'other';

/** A target column, as read from information_schema.columns. */
export interface ColumnInfo {
  name: string;
  /** information_schema data_type, e.g. 'character varying'. */
  dataType: string;
  kind: ColumnKind;
  nullable: boolean;
  /** varchar(n)/char(n) length. */
  maxLength: number | null;
  /** numeric(p, s) */
  precision: number | null;
  scale: number | null;
}

/** Maps an information_schema data_type to the conversion it needs. */
export function columnKind(dataType: string): ColumnKind {
  switch (dataType.toLowerCase()) {
    case 'text':
    case 'character varying':
    case 'character':
    case 'varchar':
    case 'char':
    case 'bpchar':
    case 'name':
    case 'citext':
      return 'text';
    case 'smallint':
      return 'smallint';
    case 'integer':
      return 'integer';
    case 'bigint':
      return 'bigint';
    case 'numeric':
    case 'decimal':
      return 'numeric';
    case 'real':
      return 'real';
    case 'double precision':
      return 'double';
    case 'boolean':
      return 'boolean';
    case 'timestamp without time zone':
      return 'timestamp';
    case 'timestamp with time zone':
      return 'timestamptz';
    case 'date':
      return 'date';
    case 'json':
    case 'jsonb':
      return 'json';
    default:
      return 'other';
  }
}
