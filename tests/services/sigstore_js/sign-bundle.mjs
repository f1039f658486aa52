// Test-only: make a Sigstore bundle with sigstore-js's signer (@sigstore/sign), key-based.
//
//   node sign-bundle.mjs --key PRIVATE.pem --out BUNDLE.json [--dsse PAYLOAD_TYPE]
//        [--rekor URL [--rekor-major 1|2]] [--tsa URL] INPUT
//
// Without --dsse, INPUT is the artifact and the bundle holds a messageSignature
// (MessageSignatureBundleBuilder); with --dsse, INPUT is the payload (an in-toto statement)
// and the bundle holds a DSSE envelope of that payload type (DSSEBundleBuilder). The signer is
// ours (sigstore-js lets a caller supply one): node:crypto over the bytes sigstore-js hands
// it, with the PKCS#8 key given (ECDSA: SHA-256, DER signature; Ed25519: pure EdDSA), and
// the key hint sigstore-js puts in the bundle is base64 SHA-256 of the SPKI DER. Witnesses:
// RekorWitness (Rekor v1 by default; --rekor-major 2 for Rekor v2) and TSAWitness.
// Exit 0: bundle written; 1: sigstore-js failed (its error on stderr); 2: usage.
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { bundleToJSON } from '@sigstore/bundle';
import { DSSEBundleBuilder, MessageSignatureBundleBuilder, RekorWitness, TSAWitness } from '@sigstore/sign';

let args;
try {
  args = parseArgs({
    allowPositionals: true,
    options: {
      key: { type: 'string' },
      out: { type: 'string' },
      dsse: { type: 'string' },
      rekor: { type: 'string' },
      'rekor-major': { type: 'string', default: '1' },
      tsa: { type: 'string' },
    },
  });
} catch (err) {
  console.error(`usage: ${err.message}`);
  process.exit(2);
}
const { values: opt, positionals } = args;
if (!opt.key || !opt.out || positionals.length !== 1) {
  console.error('usage: node sign-bundle.mjs --key PRIVATE.pem --out BUNDLE.json [--dsse TYPE] [--rekor URL [--rekor-major N]] [--tsa URL] INPUT');
  process.exit(2);
}

const privateKey = createPrivateKey(readFileSync(opt.key, 'utf8'));
const publicKey = createPublicKey(privateKey);
const spki = publicKey.export({ type: 'spki', format: 'der' });
const publicPem = publicKey.export({ type: 'spki', format: 'pem' });
const hint = createHash('sha256').update(spki).digest('base64');
// Ed25519 signs the message itself (no digest); ECDSA P-256 uses SHA-256.
const digest = privateKey.asymmetricKeyType === 'ed25519' ? null : 'sha256';

const signer = {
  async sign(data) {
    return { signature: sign(digest, data, privateKey), key: { $case: 'publicKey', publicKey: publicPem, hint } };
  },
};

const witnesses = [];
if (opt.rekor) {
  witnesses.push(new RekorWitness({ rekorBaseURL: opt.rekor, majorApiVersion: Number(opt['rekor-major']), retry: false }));
}
if (opt.tsa) {
  witnesses.push(new TSAWitness({ tsaBaseURL: opt.tsa, retry: false }));
}

const builder = opt.dsse === undefined
  ? new MessageSignatureBundleBuilder({ signer, witnesses })
  : new DSSEBundleBuilder({ signer, witnesses });
const artifact = { data: readFileSync(positionals[0]), ...(opt.dsse === undefined ? {} : { type: opt.dsse }) };

try {
  const bundle = await builder.create(artifact);
  writeFileSync(opt.out, JSON.stringify(bundleToJSON(bundle), null, 2) + '\n');
} catch (err) {
  console.error(`sigstore-js: ${err.code ?? err.name}: ${err.message}${err.cause ? ` (cause: ${err.cause.message ?? err.cause})` : ''}`);
  process.exit(1);
}
