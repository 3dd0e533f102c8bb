import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '@nearcache/core';
import { cliUsage, parseCli } from '@nearcache/sidecar';

describe('command line', () => {
  it('reads flags and environment variables; a flag wins', () => {
    const options = parseCli(['--topic', 'cache', '--port', '7000', '--http-port', '8080', '--socket-mode', '660', '--max-entries', '5000'], {
      KAFKA_BROKERS: 'k1:9092, k2:9092',
      NEARCACHE_PORT: '6000',
      NEARCACHE_PASSWORD: 'pw',
      NEARCACHE_TTL: '60000',
    });
    expect(options).toEqual({
      cache: { topic: 'cache', kafka: { brokers: ['k1:9092', 'k2:9092'] }, max: 5000, ttl: 60_000 },
      port: 7000,
      httpPort: 8080,
      socketMode: 0o660,
      password: 'pw',
      handleSignals: true,
    });
    expect(parseCli(['--help'], {})).toBe('help');
    expect(cliUsage()).toMatch(/--http-port\s+NEARCACHE_HTTP_PORT/);
  });

  it('says which flag is wrong and what it takes', () => {
    const env = { NEARCACHE_BROKERS: 'k:9092', NEARCACHE_TOPIC: 't' };
    expect(() => parseCli([], { NEARCACHE_BROKERS: 'k:9092' })).toThrow('--topic (NEARCACHE_TOPIC) is required');
    expect(() => parseCli(['--topic', 't'], {})).toThrow('--brokers (NEARCACHE_BROKERS or KAFKA_BROKERS) is required');
    expect(() => parseCli(['--port', 'high'], env)).toThrow('--port (NEARCACHE_PORT) must be a whole number, got "high"');
    expect(() => parseCli([], { ...env, NEARCACHE_SOCKET_MODE: '999' })).toThrow(/--socket-mode .* must be an octal file mode/);
    expect(() => parseCli(['--colour', 'red'], env)).toThrow(InvalidOptionError);
    expect(() => parseCli(['--password', 'a', '--password-file', '/x'], env)).toThrow('give --password or --password-file, not both');
    expect(() => parseCli(['--password-file', '/nonexistent/pw'], env)).toThrow(/--password-file: cannot read/);
  });
});
