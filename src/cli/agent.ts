/** `c8y-tunnel agent` (placeholder until its issue lands). */
export const HELP = 'c8y-tunnel agent: not implemented yet\n';

/** Runs the command; resolves with the exit code. */
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write(HELP);
  return 1;
}
