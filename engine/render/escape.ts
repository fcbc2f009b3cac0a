/**
 * Escaping for the report formats. Table names, check names, sample values
 * and rejected lines come from data and DAG files: every one of them goes
 * through these functions before it reaches HTML, SVG or XML.
 */

/**
 * Characters XML 1.0 forbids even escaped (C0 controls but tab, CR, LF; lone
 * surrogates; U+FFFE/U+FFFF): a sample value holding one would make the whole
 * JUnit file unreadable, so each becomes U+FFFD.
 */
const NOT_XML =
  // eslint-disable-next-line no-control-regex -- these are exactly the characters to remove
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escapeWith(v: unknown, apos: string): string {
  return String(v ?? '')
    .replace(NOT_XML, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, apos);
}

/** Text or attribute value for XML: & < > " ' escaped (XML's five predefined entities), forbidden characters replaced. */
export function escapeXml(v: unknown): string {
  return escapeWith(v, '&apos;');
}

/** Text or quoted attribute value for HTML (and the SVG inside it). */
export function escapeHtml(v: unknown): string {
  return escapeWith(v, '&#39;');
}

/** A value as one short line of text: strings as they are, the rest as JSON. */
export function showValue(v: unknown, max = 200): string {
  if (v === undefined || v === null) return '-';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
