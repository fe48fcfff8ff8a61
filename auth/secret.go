package auth

import (
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"crypto/pbkdf2"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for stored secrets (OWASP's second configuration:
// 19 MiB, 2 passes, 1 lane). Verification costs tens of milliseconds, so
// callers cache successful checks rather than lowering these.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
)

// ErrBadHash is returned for a stored hash that cannot be parsed.
var ErrBadHash = errors.New("auth: malformed secret hash")

// NewSecret returns a random secret of 32 URL-safe characters (192 bits).
func NewSecret() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashSecret hashes a secret with argon2id into a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>.
func HashSecret(secret string) string {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(secret), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// VerifySecret reports whether secret matches a HashSecret string, in time
// independent of where they differ.
func VerifySecret(hash, secret string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrBadHash
	}
	var version int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, ErrBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 {
		return false, ErrBadHash
	}
	got := argon2.IDKey([]byte(secret), salt, t, m, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// MosquittoHash hashes a secret in the format of Mosquitto 2's password
// file: $7$<iterations>$<salt>$<PBKDF2-SHA512 key>, standard base64.
func MosquittoHash(secret string) string {
	salt := make([]byte, 12)
	rand.Read(salt)
	return mosquittoHash(secret, salt, 101)
}

func mosquittoHash(secret string, salt []byte, iterations int) string {
	key, err := pbkdf2.Key(sha512.New, secret, salt, iterations, 64)
	if err != nil {
		panic(err) // only for parameters outside FIPS limits, which these are not
	}
	return fmt.Sprintf("$7$%d$%s$%s", iterations, base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(key))
}
