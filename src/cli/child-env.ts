/**
 * The environment of a child process this package starts (the demo's agent, and the tests' CLIs): the
 * caller's, without its `C8Y_*` settings, so a developer's shell never points a child at a real tenant.
 */

/** `base` without `C8Y_*` and without the names `drop` matches, then `extra` on top. */
export function childEnv(extra: NodeJS.ProcessEnv = {}, opts: { base?: NodeJS.ProcessEnv; drop?: RegExp } = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(opts.base ?? process.env)) if (!k.startsWith('C8Y_') && !opts.drop?.test(k)) env[k] = v;
  return { ...env, ...extra };
}
