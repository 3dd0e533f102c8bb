import { StreamableFile } from '@nestjs/common';
import { describe, expect, it, vi } from 'vitest';
import { prepareAnswer } from '../src/http-body.js';

// A prepared answer is a StreamableFile without running StreamableFile's constructor: what the
// rest of Nest reads of a StreamableFile must still be there, for an adapter that sends it as a file.
describe('prepared answers', () => {
  const answer = { status: 200, headers: [], body: Buffer.from('{"id":1}'), dropContentType: false };

  it('are StreamableFiles with their length, their bytes as a stream, and an error handler and logger', async () => {
    const file = prepareAnswer({}, answer);
    expect(file).toBeInstanceOf(StreamableFile);
    expect(file.getHeaders()).toEqual({ type: 'application/octet-stream', disposition: undefined, length: answer.body.length });
    const chunks: Buffer[] = [];
    for await (const chunk of file.getStream()) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('{"id":1}');
    expect(typeof file.errorHandler).toBe('function');
    expect(typeof file.errorLogger).toBe('function');
    // StreamableFile's own handler: a response whose headers left is ended.
    const response = { destroyed: false, headersSent: true, end: vi.fn() };
    const logged = vi.fn();
    file.setErrorLogger(logged);
    file.errorHandler.call(file, new Error('read failed'), response as never);
    expect(response.end).toHaveBeenCalledOnce();
    expect(logged).toHaveBeenCalledWith(expect.objectContaining({ message: 'read failed' }));
  });

  it('take the error handler and logger set on them', () => {
    const file = prepareAnswer({}, answer);
    const handler = vi.fn();
    const logger = vi.fn();
    expect(file.setErrorHandler(handler).setErrorLogger(logger)).toBe(file);
    expect(file.errorHandler).toBe(handler);
    expect(file.errorLogger).toBe(logger);
  });
});
