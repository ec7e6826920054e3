import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTlsVerifyError } from '#internal/net/tls-errors';

describe('one TLS verification classifier', () => {
  it('names certificate verification failures, and nothing else that happens to mention TLS', () => {
    for (const code of ['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH']) {
      assert.equal(isTlsVerifyError(code), true, code);
    }
    // A handshake timeout or a protocol mismatch is no untrusted certificate (the old patterns took any ERR_TLS_*).
    for (const code of ['ERR_TLS_HANDSHAKE_TIMEOUT', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ECONNREFUSED', 'ECONNRESET', undefined]) {
      assert.equal(isTlsVerifyError(code), false, String(code));
    }
  });
});
