package transport

// The public keys that verify signed tokens (jwt.go): read from a PEM file or
// a JWKS document on disk. Nothing is fetched over the network: a key set
// that changes is a file the operator replaces, and a restart picks it up.

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
)

// JWTKey is a public key that verifies signed tokens of one algorithm.
type JWTKey struct {
	// ID is the key's "kid". A token that names a kid is verified only by
	// the key of that ID, or by keys without an ID; "" matches any kid.
	ID string
	// Alg is the JWS algorithm the key verifies, pinned: RS256, RS384,
	// RS512, PS256, PS384 or PS512 for an RSA key, ES256, ES384 or ES512 for
	// an ECDSA key of the matching curve, EdDSA for an Ed25519 key. Empty:
	// RS256, the curve's ES algorithm, or EdDSA.
	Alg string
	// Key is an *rsa.PublicKey (2048 bits or more), an *ecdsa.PublicKey
	// (P-256, P-384, P-521) or an ed25519.PublicKey.
	Key crypto.PublicKey
}

// minRSABits is the smallest RSA modulus accepted (NIST SP 800-131A).
const minRSABits = 2048

// checkJWTKey fills k.Alg when empty and checks that it fits the key's type:
// a key verifies only its own algorithm, so no token can pick the algorithm
// a key is used with (algorithm confusion).
func checkJWTKey(k JWTKey) (JWTKey, error) {
	var algs []string
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		if key == nil || key.N == nil {
			return k, errors.New("an empty RSA key")
		}
		if key.N.BitLen() < minRSABits {
			return k, fmt.Errorf("an RSA key of %d bits; at least %d are needed", key.N.BitLen(), minRSABits)
		}
		algs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case *ecdsa.PublicKey:
		if key == nil || key.Curve == nil {
			return k, errors.New("an empty ECDSA key")
		}
		switch key.Curve {
		case elliptic.P256():
			algs = []string{"ES256"}
		case elliptic.P384():
			algs = []string{"ES384"}
		case elliptic.P521():
			algs = []string{"ES512"}
		default:
			return k, fmt.Errorf("an ECDSA key on %s; want P-256, P-384 or P-521", key.Curve.Params().Name)
		}
	case ed25519.PublicKey:
		if len(key) != ed25519.PublicKeySize {
			return k, fmt.Errorf("an Ed25519 key of %d bytes; want %d", len(key), ed25519.PublicKeySize)
		}
		algs = []string{"EdDSA"}
	case []byte, string:
		return k, errors.New("a shared secret: HS256 secrets go in JWTSecret, never among the public keys")
	default:
		return k, fmt.Errorf("a key of type %T; want *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey", k.Key)
	}
	if k.Alg == "" {
		k.Alg = algs[0]
	}
	if !slices.Contains(algs, k.Alg) {
		return k, fmt.Errorf("alg %q does not fit a key of type %T (want one of %v)", k.Alg, k.Key, algs)
	}
	return k, nil
}

// ParseJWTKeys reads public keys from a PEM file (PUBLIC KEY, RSA PUBLIC
// KEY or CERTIFICATE blocks) or a JWKS document ({"keys": [...]}, or a
// single JWK) and checks each as Config.JWTKeys would. Private keys are
// refused: the server only verifies.
func ParseJWTKeys(data []byte) ([]JWTKey, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		return parseJWKS(trimmed)
	}
	return parsePEMKeys(data)
}

func parsePEMKeys(data []byte) ([]JWTKey, error) {
	var keys []JWTKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var key any
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				key = cert.PublicKey
			}
		default:
			if bytes.Contains([]byte(block.Type), []byte("PRIVATE")) {
				return nil, fmt.Errorf("PEM block %d is a %s: give the public key only (openssl pkey -in key.pem -pubout)", n, block.Type)
			}
			return nil, fmt.Errorf("PEM block %d is a %s; want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", n, block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %v", n, block.Type, err)
		}
		k, err := checkJWTKey(JWTKey{Key: key})
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %v", n, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no key found: want PEM blocks (-----BEGIN PUBLIC KEY-----) or a JWKS document ({\"keys\": [...]})")
	}
	return keys, nil
}

// jwk is one JSON Web Key (RFC 7517, 7518, 8037), public members only.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d"` // private: present means the file holds a private key
}

func parseJWKS(data []byte) ([]JWTKey, error) {
	var doc struct {
		Keys []jwk `json:"keys"`
		jwk
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("JWKS: %v", err)
	}
	list := doc.Keys
	if list == nil && doc.Kty != "" {
		list = []jwk{doc.jwk} // a single JWK
	}
	var keys []JWTKey
	for i, j := range list {
		if j.Use != "" && j.Use != "sig" {
			continue // an encryption key: not ours
		}
		k, err := j.publicKey()
		if err == nil {
			k, err = checkJWTKey(k)
		}
		if err != nil {
			return nil, fmt.Errorf("JWKS key %d (kid %q): %v", i+1, j.Kid, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New(`JWKS: no signature key in "keys"`)
	}
	return keys, nil
}

func (j *jwk) publicKey() (JWTKey, error) {
	k := JWTKey{ID: j.Kid, Alg: j.Alg}
	if j.D != "" {
		return k, errors.New(`holds a private key ("d"): publish the public members only`)
	}
	switch j.Kty {
	case "RSA":
		n, err1 := b64Int(j.N)
		e, err2 := b64Int(j.E)
		if err := errors.Join(err1, err2); err != nil {
			return k, fmt.Errorf(`"n" or "e": %v`, err)
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return k, errors.New(`"e" out of range`)
		}
		k.Key = &rsa.PublicKey{N: n, E: int(e.Int64())}
	case "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return k, fmt.Errorf("curve %q; want P-256, P-384 or P-521", j.Crv)
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err1 := b64Fixed(j.X, size)
		y, err2 := b64Fixed(j.Y, size)
		if err := errors.Join(err1, err2); err != nil {
			return k, fmt.Errorf(`"x" or "y": %v`, err)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return k, err
		}
		k.Key = pub
	case "OKP":
		if j.Crv != "Ed25519" {
			return k, fmt.Errorf("curve %q; want Ed25519", j.Crv)
		}
		x, err := b64Fixed(j.X, ed25519.PublicKeySize)
		if err != nil {
			return k, fmt.Errorf(`"x": %v`, err)
		}
		k.Key = ed25519.PublicKey(x)
	case "oct":
		return k, errors.New("a shared secret (kty oct): HS256 secrets go in JWTSecret, never in the key file")
	default:
		return k, fmt.Errorf("kty %q; want RSA, EC or OKP", j.Kty)
	}
	return k, nil
}

func b64Int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, errors.New("want unpadded base64url")
	}
	return new(big.Int).SetBytes(b), nil
}

func b64Fixed(s string, size int) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("want unpadded base64url")
	}
	if len(b) != size {
		return nil, fmt.Errorf("%d bytes; want %d", len(b), size)
	}
	return b, nil
}
