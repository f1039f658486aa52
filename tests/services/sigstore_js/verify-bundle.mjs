// Test-only: verify a bundle with sigstore-js (@sigstore/verify) against a trusted root and one key.
//
//   node verify-bundle.mjs [--tlog-threshold N] BUNDLE.json KEY.pem TRUSTED_ROOT.json [ARTIFACT]
//
// Unlike tests/hsm/interop/verify-bundle.mjs (key only, every threshold 0), this one trusts the
// logs and timestamp authorities of TRUSTED_ROOT and keeps sigstore-js's thresholds at one
// transparency-log entry (--tlog-threshold changes it) and one timestamp (no CT log: the
// signer is a bare key). The key is registered under base64 SHA-256 of its SPKI DER, the hint
// the signer put in the bundle.
// ARTIFACT is needed for messageSignature bundles, not for DSSE ones.
// Exit 0: verified; 1: rejected (reason on stderr); 2: usage or unreadable input.
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { bundleFromJSON } from '@sigstore/bundle';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';

const usage = 'usage: node verify-bundle.mjs [--tlog-threshold N] BUNDLE.json KEY.pem TRUSTED_ROOT.json [ARTIFACT]';
let args;
try {
  args = parseArgs({ allowPositionals: true, options: { 'tlog-threshold': { type: 'string', default: '1' } } });
} catch (err) {
  console.error(`${usage}\n${err.message}`);
  process.exit(2);
}
const [bundlePath, keyPath, rootPath, artifactPath] = args.positionals;
const tlogThreshold = Number(args.values['tlog-threshold']);
if (!bundlePath || !keyPath || !rootPath || args.positionals.length > 4 || !Number.isInteger(tlogThreshold)) {
  console.error(usage);
  process.exit(2);
}

let bundle, key, root, artifact;
try {
  bundle = bundleFromJSON(JSON.parse(readFileSync(bundlePath, 'utf8')));
  key = createPublicKey(readFileSync(keyPath, 'utf8'));
  root = TrustedRoot.fromJSON(JSON.parse(readFileSync(rootPath, 'utf8')));
  artifact = artifactPath ? readFileSync(artifactPath) : undefined;
} catch (err) {
  console.error(`input: ${err.message}`);
  process.exit(2);
}

const spki = key.export({ type: 'spki', format: 'der' });
const hint = createHash('sha256').update(spki).digest('base64');
const trust = toTrustMaterial(root, { [hint]: { rawBytes: spki } });
const verifier = new Verifier(trust, { tlogThreshold, ctlogThreshold: 0, timestampThreshold: 1 });

try {
  verifier.verify(toSignedEntity(bundle, artifact));
} catch (err) {
  console.error(`rejected: ${err.code ?? err.name}: ${err.message}`);
  process.exit(1);
}
console.log(`verified with key ${hint}`);
