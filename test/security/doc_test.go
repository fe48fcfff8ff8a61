// Package security holds the attack tests: each file is named by a threat
// (docs/SECURITY.md's threat model) and tries it against a running
// Vitalwire the way an attacker would, with and without credentials, over
// HTTP, WebSocket, MQTT (embedded broker and, where it differs, Mosquitto)
// and the files an operator holds. A test here fails on a service that
// does not hold up to the attack.
package security
