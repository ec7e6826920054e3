/**
 * The Node release lines the project supports: the LTS lines 22 and 24 from their first LTS release,
 * and 26 on. package.json's `engines` says the same (a test keeps the two equal). On another line (20,
 * past its end of life on 2026-04-30, or an odd line) everything still runs as far as tested, but the
 * agent warns at start: npm only warns too (EBADENGINE), it does not refuse.
 */
export const SUPPORTED_NODE = '^22.11.0 || ^24.11.0 || >=26.0.0';

/** Whether `version` (`process.versions.node` form, `24.22.3`) is on a supported line. */
export function nodeSupported(version: string = process.versions.node): boolean {
  const m = /^v?(\d+)\.(\d+)\./.exec(version);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major === 22) return minor >= 11;
  if (major === 24) return minor >= 11;
  return major >= 26;
}
