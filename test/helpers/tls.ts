import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCertificates {
  dir: string;
  /** The CA certificate (PEM), for clients' `ssl.ca`. */
  ca: string;
  /** The broker's key and certificate in a PKCS12 keystore, and its password. */
  keystore: string;
  password: string;
  remove(): void;
}

/** A throwaway CA and a broker certificate for 127.0.0.1/localhost, made with openssl. */
export function makeCertificates(): TestCertificates {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nc-tls-'));
  const password = 'keystore-secret';
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=nearcache test CA');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'broker.key', '-out', 'broker.csr', '-subj', '/CN=localhost');
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  run('x509', '-req', '-in', 'broker.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'broker.crt', '-days', '2', '-extfile', 'san.ext');
  run(
    'pkcs12',
    '-export',
    '-in',
    'broker.crt',
    '-inkey',
    'broker.key',
    '-certfile',
    'ca.crt',
    '-name',
    'broker',
    '-out',
    'broker.p12',
    '-passout',
    `pass:${password}`,
  );
  return {
    dir,
    ca: fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8'),
    keystore: path.join(dir, 'broker.p12'),
    password,
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
