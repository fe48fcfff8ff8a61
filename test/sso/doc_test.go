// Package sso holds the whole-service tests of who comes from outside:
// people signing in through a real OpenID provider (npm's certified
// oidc-provider, run by node), and systems reading the FHIR API with SMART
// Backend Services, their client assertions signed by an independent JOSE
// library (npm's jose). They run the service with test/harness and talk to
// it only as browsers, identity providers and EHRs do.
package sso
