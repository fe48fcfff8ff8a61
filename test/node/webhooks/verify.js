// Verifies webhook deliveries with the standardwebhooks package (the
// specification's own JavaScript implementation), independently of
// Vitalwire's Go code.
//
// Input (the file named by the first argument):
//   {"secret": "whsec_...", "deliveries": [{"name": "...", "headers": {...}, "body": "..."}]}
// Output (stdout): {"<name>": "ok"} or {"<name>": "refused: <reason>"}, and
// for an accepted delivery the payload as the library returned it under
// "<name>.payload".
'use strict';
const fs = require('fs');
const { Webhook } = require('standardwebhooks');

const input = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const wh = new Webhook(input.secret);
const out = {};
for (const d of input.deliveries) {
  try {
    out[d.name + '.payload'] = wh.verify(d.body, d.headers);
    out[d.name] = 'ok';
  } catch (e) {
    out[d.name] = 'refused: ' + e.message;
  }
}
process.stdout.write(JSON.stringify(out));
