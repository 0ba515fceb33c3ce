package main

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ringcast/ringcast/transport"
)

// jwtFlags are serve's signed-token flags, turned into Config fields by
// config.
type jwtFlags struct {
	secret, secretFile, keysFile string
	audience, issuer             string
	leeway                       time.Duration
}

// config reads the secret and key files the flags name and returns the JWT
// fields of a transport.Config (the others zero).
func (f *jwtFlags) config() (transport.Config, error) {
	var c transport.Config
	switch {
	case f.secret != "" && f.secretFile != "":
		return c, fmt.Errorf("--jwt-secret and --jwt-secret-file: give one")
	case f.secret != "":
		c.JWTSecret = []byte(f.secret)
	case f.secretFile != "":
		b, err := os.ReadFile(f.secretFile)
		if err != nil {
			return c, fmt.Errorf("--jwt-secret-file: %w", err)
		}
		c.JWTSecret = bytes.TrimRight(b, "\r\n")
		if len(c.JWTSecret) == 0 {
			return c, fmt.Errorf("--jwt-secret-file %s is empty", f.secretFile)
		}
	}
	if f.keysFile != "" {
		b, err := os.ReadFile(f.keysFile)
		if err != nil {
			return c, fmt.Errorf("--jwt-keys: %w", err)
		}
		if c.JWTKeys, err = transport.ParseJWTKeys(b); err != nil {
			return c, fmt.Errorf("--jwt-keys %s: %w", f.keysFile, err)
		}
	}
	if (f.audience != "" || f.issuer != "") && c.JWTSecret == nil && c.JWTKeys == nil {
		return c, fmt.Errorf("--jwt-audience and --jwt-issuer need --jwt-secret, --jwt-secret-file or --jwt-keys")
	}
	c.JWTAudience, c.JWTIssuer = f.audience, f.issuer
	c.JWTLeeway = f.leeway
	if f.leeway == 0 {
		c.JWTLeeway = -1 // the flag's 0 is "none"; the Config's 0 is the default
	}
	return c, nil
}

// signedTokens says which signed tokens the server verifies, for the
// start-up log: "off", or the algorithms.
func signedTokens(cfg transport.Config) string {
	var algs []string
	if len(cfg.JWTSecret) > 0 {
		algs = append(algs, "HS256")
	}
	for _, k := range cfg.JWTKeys {
		if !slices.Contains(algs, k.Alg) {
			algs = append(algs, k.Alg)
		}
	}
	if len(algs) == 0 {
		return "off"
	}
	return strings.Join(algs, ",")
}
