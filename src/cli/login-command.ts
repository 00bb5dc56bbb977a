// `sandbox login REGISTRY [-u USER] [--password-stdin]` and `sandbox logout
// REGISTRY | --all`: the credentials are checked against the registry, then
// written where podman keeps them (image/registry/auth-file.ts), so both
// tools share one login.
// Must not: echo a password, or take one from the command line without
// saying it is visible to other users.
import type { Command } from 'commander';
import { SandboxError } from '../errors.js';
import { authFileForWriting, registryKey, removeCredentials, storeCredentials } from '../image/registry/auth-file.js';
import { RegistryClient } from '../image/registry/registry-client.js';
import { parseBool } from './parse-bool.js';
import { reportError } from './report-error.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** A line from the terminal; without echo for a password. */
async function prompt(question: string, secret: boolean): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new SandboxError('usage', `no ${secret ? 'password' : 'user name'} given and stdin is not a terminal`, 'pass -u USER and --password-stdin');
  }
  process.stderr.write(question);
  const stdin = process.stdin;
  stdin.setRawMode(secret);
  stdin.resume();
  let line = '';
  try {
    return await new Promise<string>((resolve, reject) => {
      const onData = (d: Buffer) => {
        for (const ch of d.toString('utf8')) {
          if (ch === '\r' || ch === '\n') { stdin.off('data', onData); resolve(line); return; }
          if (ch === '\u0003') { stdin.off('data', onData); reject(new SandboxError('usage', 'login interrupted')); return; }
          if (ch === '\u007f') line = line.slice(0, -1);
          else line += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    if (secret) process.stderr.write('\n');
  }
}

export function registerLoginCommand(program: Command): void {
  program.command('login').description('log in to a registry (the credentials go where podman keeps them)')
    .argument('<registry>', 'host[:port], e.g. quay.io or 127.0.0.1:5000')
    .option('-u, --username <user>', 'the user name')
    .option('-p, --password <password>', 'the password (visible to other users in the process list: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .option('--tls-verify [bool]', 'verify the registry\'s certificate (--tls-verify=false also allows plain HTTP)', parseBool('--tls-verify'))
    .option('--authfile <file>', 'the auth file (default $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json)')
    .action(async (registry: string, flags: { username?: string; password?: string; passwordStdin?: boolean; tlsVerify?: boolean; authfile?: string }) => {
      try {
        const host = registryKey(registry);
        if (flags.password !== undefined && flags.passwordStdin) {
          throw new SandboxError('usage', '--password and --password-stdin both given', 'use --password-stdin only');
        }
        const username = flags.username ?? await prompt('Username: ', false);
        const password = flags.passwordStdin ? await readStdin() : flags.password ?? await prompt('Password: ', true);
        if (!username || !password) throw new SandboxError('usage', 'the user name and the password must not be empty', 'sandbox login REGISTRY -u USER --password-stdin');
        // the registry says whether the credentials are good before they are kept
        const client = new RegistryClient({
          registry: host.split('/')[0]!, credentials: { username, password },
          ...(flags.tlsVerify !== undefined ? { tlsVerify: flags.tlsVerify } : {}),
        });
        try {
          const res = await client.request('/v2/', { what: `login to ${host}` });
          res.body.resume();
        } finally {
          client.close();
        }
        const file = await storeCredentials(host, { username, password }, flags.authfile ?? authFileForWriting());
        process.stderr.write(`credentials for ${host} written to ${file}\n`);
        process.stdout.write('Login Succeeded!\n');
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });

  program.command('logout').description('remove the credentials for a registry')
    .argument('[registry]', 'host[:port]')
    .option('-a, --all', 'remove the credentials for every registry')
    .option('--authfile <file>', 'the auth file (default $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json)')
    .action(async (registry: string | undefined, flags: { all?: boolean; authfile?: string }) => {
      try {
        if (!registry && !flags.all) throw new SandboxError('usage', 'logout needs a registry or --all', 'sandbox logout quay.io');
        if (registry && flags.all) throw new SandboxError('usage', 'give a registry or --all, not both', 'sandbox logout --all');
        const file = flags.authfile ?? authFileForWriting();
        const removed = await removeCredentials(registry ?? null, file);
        if (!removed) throw new SandboxError('config', `not logged in to ${registry ?? 'any registry'} (${file})`, 'nothing to remove');
        process.stdout.write(registry ? `Removed login credentials for ${registryKey(registry)}\n` : 'Removed login credentials for all registries\n');
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });
}
