import { describe, expect, it } from 'vitest';
import { globMatch, ProtocolError, RespParser } from '@nearcache/sidecar';
import { encode } from './support.js';

const limits = { maxArgs: 8, maxRequestBytes: 4096, maxInlineBytes: 128 };

function all(parser: RespParser): string[][] {
  const out: string[][] = [];
  for (let request = parser.next(); request !== undefined; request = parser.next()) out.push(request.map((b) => b.toString()));
  return out;
}

describe('RESP parser', () => {
  it('parses requests however the bytes are split', () => {
    const bytes = Buffer.concat([encode(['SET', 'key', 'x'.repeat(1000)]), Buffer.from('PING\r\n'), encode(['GET', 'key']), Buffer.from('*0\r\n')]);
    for (const size of [1, 2, 3, 7, 64, 999, bytes.length]) {
      const parser = new RespParser(limits);
      const got: string[][] = [];
      for (let i = 0; i < bytes.length; i += size) {
        parser.push(bytes.subarray(i, i + size));
        got.push(...all(parser));
      }
      expect(got).toEqual([['SET', 'key', 'x'.repeat(1000)], ['PING'], ['GET', 'key']]);
      expect(parser.buffered).toBe(0);
    }
  });

  it('keeps binary arguments intact, CRLF inside included', () => {
    const parser = new RespParser(limits);
    const value = Buffer.from([0, 13, 10, 255, 36, 42]);
    parser.push(encode(['SET', 'k', value]));
    expect(parser.next()![2]).toEqual(value);
  });

  it('reads inline commands with spaces and tabs, with or without CR', () => {
    const parser = new RespParser(limits);
    parser.push(Buffer.from('  SET\tk   v \r\nGET k\n\r\n'));
    expect(all(parser)).toEqual([
      ['SET', 'k', 'v'],
      ['GET', 'k'],
    ]);
  });

  it.each([
    ['*x\r\n', 'invalid multibulk count'],
    ['*9\r\n', 'invalid multibulk length: 9 arguments; the limit is 8'],
    ['*1\r\n:1\r\n', "expected '$', got ':'"],
    ['*1\r\n$-1\r\n', 'invalid bulk length'],
    ['*1\r\n$5000\r\n', 'request larger than 4096 bytes'],
    ['*1\r\n$2\r\nabc\r\n', 'bulk string not followed by CRLF'],
    [`*1\r\n$${'9'.repeat(40)}`, 'too big bulk length string'],
    ['A'.repeat(200), 'too big inline request'],
    ['*1\n', 'invalid multibulk count'],
    ['*+1\r\n', 'invalid multibulk count'],
    ['*1 \r\n', 'invalid multibulk count'],
    ['*-\r\n', 'invalid multibulk count'],
    ['*1\r\n$99999999999999999\r\n', 'invalid bulk length'],
    [`*1\r\n$${'1'.repeat(20)}\r\n`, 'invalid bulk length'],
    [`*1\r\n$1${' '.repeat(40)}\r\n`, 'invalid bulk length'],
  ])('refuses %j: %s', (input, message) => {
    const parser = new RespParser(limits);
    parser.push(Buffer.from(input));
    expect(() => all(parser)).toThrow(ProtocolError);
    const again = new RespParser(limits);
    again.push(Buffer.from(input));
    expect(() => all(again)).toThrow(message);
    // Once failed, the parser stays failed.
    expect(() => again.next()).toThrow(ProtocolError);
  });
});

describe('glob patterns', () => {
  it.each([
    ['*', 'anything', true],
    ['user:*', 'user:42', true],
    ['user:*', 'order:1', false],
    ['h?llo', 'hello', true],
    ['h?llo', 'hllo', false],
    ['h[ae]llo', 'hallo', true],
    ['h[ae]llo', 'hillo', false],
    ['h[^e]llo', 'hallo', true],
    ['h[^e]llo', 'hello', false],
    ['h[a-c]llo', 'hbllo', true],
    ['h[a-c]llo', 'hdllo', false],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['*a*a*a*b', 'a'.repeat(200), false],
    ['*:*:*', 'a:b:c', true],
    ['', '', true],
    ['a', '', false],
  ])('%j against %j: %s', (pattern, text, expected) => {
    expect(globMatch(pattern, text)).toBe(expected);
  });
});
