import { describe, it, expect } from 'vitest';
import { CANONICAL_FIELDS } from '../../src/domain.js';
import { csvHeader, csvRow } from '../../src/output/csv.js';
import { makeEntry } from './output-fixtures.js';

/** A strict RFC 4180 reader: rejects bare line breaks, stray quotes and a missing final CRLF. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char !== '"') {
        field += char;
      } else if (text[i + 1] === '"') {
        field += '"';
        i++;
      } else {
        quoted = false;
      }
    } else if (char === '"') {
      if (field !== '' || wasQuoted) throw new Error(`stray quote at ${i}`);
      quoted = wasQuoted = true;
    } else if (char === ',' || (char === '\r' && text[i + 1] === '\n')) {
      row.push(field);
      field = '';
      wasQuoted = false;
      if (char === '\r') {
        rows.push(row);
        row = [];
        i++;
      }
    } else if (char === '\r' || char === '\n') {
      throw new Error(`bare line break at ${i}`);
    } else {
      if (wasQuoted) throw new Error(`text after a closing quote at ${i}`);
      field += char;
    }
  }
  if (quoted || field !== '' || row.length > 0) throw new Error('record not ended by CRLF');
  return rows;
}

describe('csv', () => {
  it('has a header of the canonical field names, ended by CRLF', () => {
    expect(csvHeader()).toBe(`${CANONICAL_FIELDS.join(',')}\r\n`);
  });

  it('round-trips awkward values through an RFC 4180 parser', () => {
    const entries = [
      makeEntry({ operator: 'Smith, John', resource_name: 'say "hi"', source: 'line1\r\nline2' }),
      makeEntry({ id: '9007199254740993', operator: 'Zoë 张三 🚀', resource_name: 'lf\nonly', source: 'cr\ronly' }),
      makeEntry({ operator: '=HYPERLINK("http://x")', source_ip: null, before: null, after: { a: '"q", b' } }),
      makeEntry({ operator: '', resource_name: '  padded  ', before: 'a JSON string', after: [1, null, 'x'] }),
    ];
    const text = csvHeader() + entries.map(csvRow).join('');
    const [header, ...rows] = parseCsv(text);
    expect(header).toEqual([...CANONICAL_FIELDS]);
    expect(rows).toHaveLength(entries.length);
    rows.forEach((row, index) => {
      const entry = entries[index]!;
      expect(row).toHaveLength(CANONICAL_FIELDS.length);
      CANONICAL_FIELDS.forEach((field, column) => {
        const cell = row[column]!;
        const value = entry[field];
        if (value === null) expect(cell).toBe('');
        else if (field === 'before' || field === 'after') expect(JSON.parse(cell)).toEqual(value);
        else expect(cell).toBe(value);
      });
    });
  });

  it('quotes only when needed and never alters a value (no formula guard)', () => {
    expect(csvRow(makeEntry({ operator: '=1+2', before: null, after: null }))).toBe(
      '42,2024-05-01T12:34:56.123456Z,=1+2,UPDATE,route,r1,orders,10.0.0.7,dashboard,,\r\n',
    );
    expect(csvRow(makeEntry({ before: { a: 1 }, after: null }))).toContain(',"{""a"":1}",\r\n');
  });
});
