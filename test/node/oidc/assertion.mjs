// An independent SMART Backend Services client for Vitalwire's tests,
// with npm's jose: makes a key pair, and signs client assertions.
//
//   node assertion.mjs keygen ES384|RS384   -> {"private": JWK, "jwks": {"keys": [public JWK]}}
//   node assertion.mjs sign '<private JWK>' '[claims, ...]'   -> a JSON array of the signed JWTs
import * as jose from 'jose';

const [cmd, a, b] = process.argv.slice(2);
if (cmd === 'keygen') {
  const { publicKey, privateKey } = await jose.generateKeyPair(a, { extractable: true });
  const kid = `test-${a.toLowerCase()}-${Date.now()}`;
  const pub = { ...(await jose.exportJWK(publicKey)), kid, alg: a, use: 'sig' };
  const priv = { ...(await jose.exportJWK(privateKey)), kid, alg: a };
  console.log(JSON.stringify({ private: priv, jwks: { keys: [pub] } }));
} else if (cmd === 'sign') {
  const jwk = JSON.parse(a);
  const key = await jose.importJWK(jwk, jwk.alg);
  const out = [];
  for (const claims of JSON.parse(b)) {
    out.push(await new jose.SignJWT(claims).setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: 'JWT' }).sign(key));
  }
  console.log(JSON.stringify(out));
} else {
  console.error('usage: assertion.mjs keygen ALG | sign JWK CLAIMS');
  process.exit(2);
}
