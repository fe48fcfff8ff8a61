//go:build !linux

package app

// appendOnly cannot tell on this system; the warning errs on the side of
// saying it.
func appendOnly(string) bool { return false }
