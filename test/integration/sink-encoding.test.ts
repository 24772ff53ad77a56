import { describe, expect, it } from 'vitest';
import { BodyBuilder, epochSeconds, quoteJson } from '../../src/sinks/body.js';
import { seededRandom } from '../support/fake-server.js';

describe('sink text helpers', () => {
  it('quoteJson matches JSON.stringify', () => {
    const samples = ['', 'plain', 'with "quotes"', 'back\\slash', 'tab\there', 'nul\u0000', '\u001f', 'ünïcode', '路由', '😀', '\ud800 lone', 'line\u2028sep', '</script>'];
    for (const s of samples) expect(quoteJson(s)).toBe(JSON.stringify(s));
  });

  it('epochSeconds matches toFixed(3) for millisecond times', () => {
    const random = seededRandom(11);
    const values = [0, 1, 999, 1000, 1001, 1764096889014, 1764096889000, 1764096889010, 1764096889100, 1764096889014.4];
    for (let i = 0; i < 1000; i += 1) values.push(Math.floor(random() * 4e12));
    for (const ms of values) expect(epochSeconds(ms)).toBe((Math.round(ms) / 1000).toFixed(3));
  });

  it('BodyBuilder.addEpochSeconds writes what epochSeconds gives, past 2038 and before 1970 too', () => {
    const random = seededRandom(12);
    const values = [0, 1, 9, 10, 999, 1000, 1001, 9999, 10_000, 1764096889014, 1764096889999.6, 2 ** 31 * 1000 - 1, 2 ** 31 * 1000, 253402300799999, -1, -1001, -62135596800000];
    for (let i = 0; i < 2000; i += 1) values.push(Math.floor(random() * 4e12), random() * 3e9);
    const body = new BodyBuilder(1);
    const expected: string[] = [];
    for (const ms of values) {
      body.addEpochSeconds(ms);
      body.addBytes(' ');
      expected.push(`${epochSeconds(ms)} `);
    }
    expect(body.bytes().toString('latin1')).toBe(expected.join(''));
  });

  it('BodyBuilder.addRange and addBuffer copy bytes as they are, growing past the estimate', () => {
    const body = new BodyBuilder(1);
    const text = Buffer.from('{"operator":"张伟","x":"\\u0000"}'.repeat(200), 'utf8').toString('latin1');
    body.addRange(text, 3, text.length - 2);
    body.addBuffer(Buffer.from('ünï', 'utf8'));
    expect(body.bytes().toString('latin1')).toBe(`${text.slice(3, -2)}${Buffer.from('ünï', 'utf8').toString('latin1')}`);
  });

  it('BodyBuilder writes UTF-8 and grows past its estimate', () => {
    const body = new BodyBuilder(1);
    const parts = ['{"a":"ünïcode"}', '路由'.repeat(1000), '😀', '\n'];
    for (const part of parts) body.add(part);
    expect(body.bytes().toString('utf8')).toBe(parts.join(''));
  });
});
