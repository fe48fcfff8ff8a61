// Reads an OpenAPI description on stdin and validates it with
// swagger-parser (the OpenAPI 3.1 JSON schema, $refs resolved, and its
// own checks: unique operation ids, path parameters declared and used).
// Prints "valid" or the error, and exits 1 when it is not valid.
'use strict';
const SwaggerParser = require('@apidevtools/swagger-parser');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', async () => {
  try {
    const api = await SwaggerParser.validate(JSON.parse(input));
    process.stdout.write(`valid ${api.openapi} ${Object.keys(api.paths).length} paths\n`);
  } catch (err) {
    process.stdout.write(`invalid: ${err.message}\n`);
    process.exit(1);
  }
});
