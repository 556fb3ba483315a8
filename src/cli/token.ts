/** `balise token new`: a role token and the BALISE_TOKENS entry that holds only its hash. */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { hashToken } from '../api/auth.ts';
import { TOKEN_ROLES } from '../config/index.ts';
import { BaliseError } from '../errors.ts';

export function registerTokenCommand(program: Command): void {
  program
    .command('token')
    .description('role tokens for the API and the dashboard')
    .command('new')
    .description('print a new token, and the BALISE_TOKENS entry (its SHA-256 hash) that lets it in')
    .requiredOption('--name <name>', 'who or what holds it (shown in the audit log)')
    .requiredOption('--role <role>', `one of ${TOKEN_ROLES.join(', ')}`)
    .action((opts: { name: string; role: string }) => {
      if (!(TOKEN_ROLES as readonly string[]).includes(opts.role)) throw new BaliseError('usage', `--role: one of ${TOKEN_ROLES.join(', ')}`);
      if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(opts.name)) throw new BaliseError('usage', '--name: letters, digits and _ . @ - (at most 64)');
      const token = `bt_${randomBytes(24).toString('base64url')}`;
      console.log(`token (give it to ${opts.name}; it is not stored anywhere): ${token}`);
      console.log(`add to BALISE_TOKENS (comma-separated): ${opts.name}:${opts.role}:${hashToken(token)}`);
    });
}
