// Package access holds the whole-service tests of who may do what: device
// credentials and topics on the brokers, browser sessions and sign-in, and
// the live socket's permissions. They run the service with test/harness
// and talk to it only as its users, devices and operators do.
package access
