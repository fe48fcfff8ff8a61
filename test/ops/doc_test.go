// Package ops holds the tests of what the people who run Vitalwire use:
// the build's version and metrics, the first admin's bootstrap, backup and
// restore, retention, and the packaging (Dockerfile, compose file, systemd
// unit, docs/DEPLOY.md), each against the real binary or service.
package ops
