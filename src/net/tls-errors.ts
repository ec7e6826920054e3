/**
 * The one answer to "did the peer's certificate fail verification?", for every TLS client of the package:
 * the engine's WebSocket leg, the agent's MQTT and REST connections, and `connect`'s REST calls. Three
 * pattern matches used to disagree (one took any `ERR_TLS_*`, a handshake timeout included, for an
 * untrusted certificate); this is the list Node reports.
 */

/**
 * Every certificate verification code Node reports (OpenSSL's X509_V_ERR_* names, as listed in Node's
 * crypto sources), plus Node's own host-name check: all of them mean "the cloud is not authenticated".
 */
const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERROR_IN_CRL_LAST_UPDATE_FIELD',
  'ERROR_IN_CRL_NEXT_UPDATE_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** True when `code` says the peer's certificate failed verification. */
export function isTlsVerifyError(code: string | undefined): boolean {
  return code !== undefined && (TLS_VERIFY_CODES.has(code) || code.startsWith('ERR_TLS_CERT'));
}
