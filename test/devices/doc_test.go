// Package devices holds the whole-service tests of devices as they really
// arrive: Bluetooth GATT payloads relayed by a phone or hub, readings
// posted over HTTPS by devices and vendor clouds, fleets enrolled by the
// thousand, and the refusals a device maker reads. They run the service
// with test/harness and reach it only as devices, integrators and
// operators do.
package devices
