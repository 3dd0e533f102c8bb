import { describe, expect, it } from 'vitest';
import { ifNoneMatchMatches, isCachedResponse, isVaryIndex, parseVary, responseKey, strongEtag, variantKey } from '../src/index.js';

const valid = { v: 1, status: 200, headers: { 'content-type': 'text/plain', link: ['<a>', '<b>'] }, body: Buffer.from('hi').toString('base64'), storedAt: 1 };

describe('the entry format', () => {
  it('accepts a well-formed response entry', () => {
    expect(isCachedResponse(valid)).toBe(true);
  });

  it.each([
    ['another version', { ...valid, v: 2 }],
    ['a 5xx status', { ...valid, status: 500 }],
    ['a 304 status', { ...valid, status: 304 }],
    ['a body that is not base64', { ...valid, body: 'not base64!' }],
    ['a header name with a space', { ...valid, headers: { 'x y': 'z' } }],
    ['a header value with a line break', { ...valid, headers: { 'x-y': 'a\r\nset-cookie: s=1' } }],
    ['a header value that is a number', { ...valid, headers: { 'x-y': 1 } }],
    ['no storedAt', { ...valid, storedAt: undefined }],
    ['a string', 'hello'],
    ['null', null],
  ])('refuses %s', (_name, value) => {
    expect(isCachedResponse(value)).toBe(false);
  });

  it('tells vary indexes from responses', () => {
    expect(isVaryIndex({ v: 1, vary: ['accept-language'], storedAt: 1 })).toBe(true);
    expect(isVaryIndex(valid)).toBe(false);
    expect(isVaryIndex({ v: 1, vary: [], storedAt: 1 })).toBe(false);
    expect(isVaryIndex({ v: 1, vary: ['bad name'], storedAt: 1 })).toBe(false);
  });

  it('builds keys', () => {
    expect(responseKey('/products/1?x=1')).toBe('http:GET /products/1?x=1');
    expect(responseKey('/p', 'api:')).toBe('api:GET /p');
    expect(parseVary('Accept-Language, accept-encoding,Accept-Language')).toEqual(['accept-encoding', 'accept-language']);
    expect(parseVary(['Origin', '*'])).toEqual(['*']);
    expect(variantKey('http:GET /g', ['accept-encoding', 'accept-language'], { 'accept-encoding': 'gzip, br', 'accept-language': 'fr=x&y' })).toBe(
      'http:GET /g accept-encoding=gzip%2Cbr&accept-language=fr%3Dx%26y',
    );
    expect(variantKey('http:GET /g', ['accept-language'], {})).toBe('http:GET /g accept-language=');
  });
});

describe('conditional helpers', () => {
  it('compares entity tags weakly for If-None-Match', () => {
    expect(ifNoneMatchMatches('"a"', '"a"')).toBe(true);
    expect(ifNoneMatchMatches('W/"a"', '"a"')).toBe(true);
    expect(ifNoneMatchMatches('"a"', 'W/"a"')).toBe(true);
    expect(ifNoneMatchMatches('"x", W/"a"', '"a"')).toBe(true);
    expect(ifNoneMatchMatches('"a,b"', '"a,b"')).toBe(true);
    expect(ifNoneMatchMatches('"a"', '"b"')).toBe(false);
    expect(ifNoneMatchMatches('a', '"a"')).toBe(false);
    expect(ifNoneMatchMatches(' * ', undefined)).toBe(true);
    expect(ifNoneMatchMatches('"a"', undefined)).toBe(false);
  });

  it('makes strong tags from the body', () => {
    expect(strongEtag(Buffer.from('x'))).toBe(strongEtag(Buffer.from('x')));
    expect(strongEtag(Buffer.from('x'))).not.toBe(strongEtag(Buffer.from('y')));
    expect(strongEtag(Buffer.from('x'))).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
  });
});
