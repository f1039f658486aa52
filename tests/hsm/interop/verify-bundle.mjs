// Test-only: verify an airseal bundle with sigstore-js, trusting exactly one public key.
//
//   node verify-bundle.mjs BUNDLE.json KEY.pem [ARTIFACT]
//
// ARTIFACT is needed for messageSignature bundles, not for DSSE ones. The trust material has
// no CAs, logs or TSAs, and the one key is registered under the hint sigstore-js computes
// the way airseal does (base64 SHA-256 of the SPKI DER), so a hint mismatch fails too.
// Exit 0: verified; 1: rejected (reason on stderr); 2: usage or unreadable input.
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { bundleFromJSON } from '@sigstore/bundle';
import { Verifier, toSignedEntity, toTrustMaterial } from '@sigstore/verify';

const [bundlePath, keyPath, artifactPath] = process.argv.slice(2);
if (!bundlePath || !keyPath) {
  console.error('usage: node verify-bundle.mjs BUNDLE.json KEY.pem [ARTIFACT]');
  process.exit(2);
}

let bundle, key, artifact;
try {
  bundle = bundleFromJSON(JSON.parse(readFileSync(bundlePath, 'utf8')));
  key = createPublicKey(readFileSync(keyPath, 'utf8'));
  artifact = artifactPath ? readFileSync(artifactPath) : undefined;
} catch (err) {
  console.error(`input: ${err.message}`);
  process.exit(2);
}

const spki = key.export({ type: 'spki', format: 'der' });
const hint = createHash('sha256').update(spki).digest('base64');
const emptyRoot = { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] };
const trust = toTrustMaterial(emptyRoot, { [hint]: { rawBytes: spki } });
const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });

try {
  verifier.verify(toSignedEntity(bundle, artifact));
} catch (err) {
  console.error(`rejected: ${err.code ?? err.name}: ${err.message}`);
  process.exit(1);
}
console.log(`verified with key ${hint}`);
