package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringcast/ringcast/transport"
)

func TestServeJWTFlags(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemFile := write("keys.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	secretFile := write("secret", strings.Repeat("k", 40)+"\n")

	f := jwtFlags{secretFile: secretFile, keysFile: pemFile, audience: "ringcast"}
	c, err := f.config()
	if err != nil {
		t.Fatal(err)
	}
	if string(c.JWTSecret) != strings.Repeat("k", 40) || len(c.JWTKeys) != 1 || c.JWTKeys[0].Alg != "ES256" || c.JWTLeeway != -1 {
		t.Fatalf("config %+v", c)
	}
	if got := signedTokens(c); got != "HS256,ES256" {
		t.Errorf("signedTokens: %q", got)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--jwt-secret", "short"}, "--jwt-secret of 5 bytes is too short"},
		{[]string{"--jwt-secret", strings.Repeat("k", 32), "--jwt-secret-file", secretFile}, "--jwt-secret and --jwt-secret-file"},
		{[]string{"--jwt-keys", secretFile}, "--jwt-keys " + secretFile + ": no key found"},
		{[]string{"--jwt-keys", filepath.Join(dir, "none")}, "--jwt-keys: open"},
		{[]string{"--jwt-audience", "x"}, "--jwt-audience and --jwt-issuer need"},
		{[]string{"--jwt-secret", strings.Repeat("k", 32), "--jwt-leeway", "2h"}, "--jwt-leeway 2h0m0s exceeds an hour"},
	} {
		err := runServe(append(tc.args, "--addr", "127.0.0.1:0", "--admin-addr", ""), io.Discard, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: %v; want %q...", tc.args, err, tc.want)
		}
	}
	err = runServe([]string{"--jwt-secret", "short", "--addr", "127.0.0.1:0", "--admin-addr", ""}, io.Discard, io.Discard)
	if !errors.Is(err, transport.ErrInvalidConfig) {
		t.Errorf("a short secret: %v is not ErrInvalidConfig", err)
	}
}
