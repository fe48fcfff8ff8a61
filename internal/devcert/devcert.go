// Package devcert makes a local certificate authority and a server
// certificate signed by it, for trying HTTPS and MQTT over TLS on one
// machine (vitalwire dev-cert). Production uses certificates from the
// organisation's own CA.
package devcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Files are the paths Write produced.
type Files struct {
	CA, CAKey, Cert, Key string
}

// Write creates, in dir, ca.pem and ca-key.pem (a new CA, valid a year),
// server.pem (the server certificate for hosts, then the CA certificate)
// and server-key.pem. Keys are ECDSA P-256, written with mode 0600 (also
// over old files of another mode) into dir, which is made 0700.
func Write(dir string, hosts []string) (Files, error) {
	f := Files{CA: filepath.Join(dir, "ca.pem"), CAKey: filepath.Join(dir, "ca-key.pem"),
		Cert: filepath.Join(dir, "server.pem"), Key: filepath.Join(dir, "server-key.pem")}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, fmt.Errorf("dev-cert: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return f, fmt.Errorf("dev-cert: %w", err)
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "Vitalwire development CA", Organization: []string{"Vitalwire dev"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return f, fmt.Errorf("dev-cert: CA: %w", err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: hosts[0], Organization: []string{"Vitalwire dev"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return f, fmt.Errorf("dev-cert: server: %w", err)
	}
	caKeyDER, _ := x509.MarshalECPrivateKey(caKey)
	keyDER, _ := x509.MarshalECPrivateKey(key)
	for _, w := range []struct {
		path   string
		mode   os.FileMode
		blocks []*pem.Block
	}{
		{f.CA, 0o644, []*pem.Block{{Type: "CERTIFICATE", Bytes: caDER}}},
		{f.CAKey, 0o600, []*pem.Block{{Type: "EC PRIVATE KEY", Bytes: caKeyDER}}},
		{f.Cert, 0o644, []*pem.Block{{Type: "CERTIFICATE", Bytes: der}, {Type: "CERTIFICATE", Bytes: caDER}}},
		{f.Key, 0o600, []*pem.Block{{Type: "EC PRIVATE KEY", Bytes: keyDER}}},
	} {
		if err := writeFile(w.path, w.mode, w.blocks...); err != nil {
			return f, fmt.Errorf("dev-cert: %w", err)
		}
	}
	return f, nil
}

// writeFile writes PEM blocks into a new file renamed over path: writing
// into an old one would keep its mode.
func writeFile(path string, mode os.FileMode, blocks ...*pem.Block) error {
	var b []byte
	for _, bl := range blocks {
		b = append(b, pem.EncodeToMemory(bl)...)
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if err := out.Chmod(mode); err != nil { // whatever the umask
		out.Close()
		return err
	}
	if _, err := out.Write(b); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// WriteClient makes a device's client certificate for mutual TLS on the
// broker, signed by the CA Write left in dir: <id>.pem (its common name
// the device id; for client authentication only) and <id>-key.pem (0600).
// It returns their paths.
func WriteClient(dir, id string) (cert, key string, err error) {
	ca, caKey, err := loadCA(dir)
	if err != nil {
		return "", "", fmt.Errorf("dev-cert: %w", err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: id, Organization: []string{"Vitalwire dev"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
	if err != nil {
		return "", "", fmt.Errorf("dev-cert: client %s: %w", id, err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(k)
	cert, key = filepath.Join(dir, id+".pem"), filepath.Join(dir, id+"-key.pem")
	if err := writeFile(cert, 0o644, &pem.Block{Type: "CERTIFICATE", Bytes: der}, &pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}); err != nil {
		return "", "", fmt.Errorf("dev-cert: %w", err)
	}
	if err := writeFile(key, 0o600, &pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}); err != nil {
		return "", "", fmt.Errorf("dev-cert: %w", err)
	}
	return cert, key, nil
}

func loadCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		return nil, nil, err
	}
	cblock, _ := pem.Decode(cb)
	kblock, _ := pem.Decode(kb)
	if cblock == nil || kblock == nil {
		return nil, nil, fmt.Errorf("%s: no CA certificate and key", dir)
	}
	ca, err := x509.ParseCertificate(cblock.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kblock.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return ca, key, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}
