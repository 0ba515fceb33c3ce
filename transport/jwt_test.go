package transport

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Test keys, generated once per test binary (RSA generation is slow).
var testKeys = sync.OnceValue(func() (k struct {
	secret, otherSecret []byte
	rsa, otherRSA       *rsa.PrivateKey
	ec, otherEC         *ecdsa.PrivateKey
	ed                  ed25519.PrivateKey
}) {
	k.secret = []byte(strings.Repeat("s", 32))
	k.otherSecret = []byte(strings.Repeat("o", 32))
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.otherRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if k.otherEC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
	return k
})

// testClaims builds a token payload: exp (relative to now, 0: none), the
// grant, and extra registered claims.
type testClaims struct {
	Exp, Nbf, Iat time.Duration // relative to now; 0: absent
	Sub           []string
	Pub           []string
	Aud, Iss, Kid string
	NoGrant       bool
}

func (tc testClaims) mapClaims(now time.Time) jwt.MapClaims {
	m := jwt.MapClaims{"sub": "user-42"}
	if tc.Exp != 0 {
		m["exp"] = now.Add(tc.Exp).Unix()
	}
	if tc.Nbf != 0 {
		m["nbf"] = now.Add(tc.Nbf).Unix()
	}
	if tc.Iat != 0 {
		m["iat"] = now.Add(tc.Iat).Unix()
	}
	if tc.Aud != "" {
		m["aud"] = tc.Aud
	}
	if tc.Iss != "" {
		m["iss"] = tc.Iss
	}
	if !tc.NoGrant {
		m["ringcast"] = map[string]any{"subscribe": tc.Sub, "publish": tc.Pub}
	}
	return m
}

// mint signs claims with method and key.
func mint(t testing.TB, method jwt.SigningMethod, key any, tc testClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, tc.mapClaims(time.Now()))
	if tc.Kid != "" {
		tok.Header["kid"] = tc.Kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// hsToken is a valid HS256 token with the test secret for these topics.
func hsToken(t testing.TB, exp time.Duration, subscribe, publish []string) string {
	return mint(t, jwt.SigningMethodHS256, testKeys().secret, testClaims{Exp: exp, Sub: subscribe, Pub: publish})
}

func pemOf(t testing.TB, pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// tamper replaces a token's payload, keeping its header and signature.
func tamper(t testing.TB, token string, payload jwt.MapClaims) string {
	parts := strings.Split(token, ".")
	b, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

func TestJWTVerify(t *testing.T) {
	k := testKeys()
	hour := time.Hour
	all := Config{
		JWTSecret: k.secret,
		JWTKeys: []JWTKey{
			{ID: "rsa-1", Key: &k.rsa.PublicKey},
			{ID: "ec-1", Key: &k.ec.PublicKey},
			{Key: k.ed.Public()},
		},
	}
	rsaOnly := Config{JWTKeys: []JWTKey{{Key: &k.rsa.PublicKey}}}
	ecOnly := Config{JWTKeys: []JWTKey{{Key: &k.ec.PublicKey}}}
	strict := Config{JWTSecret: k.secret, JWTAudience: "ringcast.example", JWTIssuer: "https://app.example"}
	grant := []string{"user.42", "team.7.*"}
	valid := mint(t, jwt.SigningMethodHS256, k.secret, testClaims{Exp: hour, Sub: grant})

	cases := []struct {
		name   string
		cfg    Config
		token  string
		reason string // "" when valid
	}{
		{"hs256 valid", all, valid, ""},
		{"rs256 valid", all, mint(t, jwt.SigningMethodRS256, k.rsa, testClaims{Exp: hour, Sub: grant}), ""},
		{"rs256 valid with its kid", all, mint(t, jwt.SigningMethodRS256, k.rsa, testClaims{Exp: hour, Sub: grant, Kid: "rsa-1"}), ""},
		{"es256 valid", all, mint(t, jwt.SigningMethodES256, k.ec, testClaims{Exp: hour, Sub: grant}), ""},
		{"eddsa valid", all, mint(t, jwt.SigningMethodEdDSA, k.ed, testClaims{Exp: hour, Sub: grant}), ""},
		{"expired", all, mint(t, jwt.SigningMethodHS256, k.secret, testClaims{Exp: -time.Minute, Sub: grant}), tokExpired},
		{"expired within the leeway", all, mint(t, jwt.SigningMethodHS256, k.secret, testClaims{Exp: -2 * time.Second, Sub: grant}), ""},
		{"not yet valid (nbf)", all, mint(t, jwt.SigningMethodHS256, k.secret, testClaims{Exp: hour, Nbf: time.Minute, Sub: grant}), tokNotYetValid},
		{"nbf within the leeway", all, mint(t, jwt.SigningMethodHS256, k.secret, testClaims{Exp: hour, Nbf: 2 * time.Second, Sub: grant}), ""},
		{"issued in the future (iat)", all, mint(t, jwt.SigningMethodHS256, k.secret, testClaims{Exp: hour, Iat: time.Minute, Sub: grant}), tokNotYetValid},
		{"no exp", all, mint(t, jwt.SigningMethodHS256, k.secret, testClaims{Sub: grant}), tokMissingClaim},
		{"wrong secret", all, mint(t, jwt.SigningMethodHS256, k.otherSecret, testClaims{Exp: hour, Sub: grant}), tokBadSignature},
		{"wrong rsa key", all, mint(t, jwt.SigningMethodRS256, k.otherRSA, testClaims{Exp: hour, Sub: grant}), tokBadSignature},
		{"wrong ec key", all, mint(t, jwt.SigningMethodES256, k.otherEC, testClaims{Exp: hour, Sub: grant}), tokBadSignature},
		{"unknown kid", all, mint(t, jwt.SigningMethodRS256, k.rsa, testClaims{Exp: hour, Sub: grant, Kid: "rsa-2"}), tokUnknownKey},
		{"kid of another alg's key", all, mint(t, jwt.SigningMethodRS256, k.rsa, testClaims{Exp: hour, Sub: grant, Kid: "ec-1"}), tokUnknownKey},
		{"alg none", all, mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, testClaims{Exp: hour, Sub: []string{"*"}}), tokBadAlg},
		{"alg none, signature stripped from a valid token", all, b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + strings.Split(valid, ".")[1] + ".", tokBadAlg},
		// HS/RS confusion: HS256 "signed" with the server's public key as
		// the HMAC secret. Without a secret configured HS256 is refused
		// outright; with one, only the secret verifies it.
		{"hs/rs confusion, no secret", rsaOnly, mint(t, jwt.SigningMethodHS256, pemOf(t, &k.rsa.PublicKey), testClaims{Exp: hour, Sub: []string{"*"}}), tokBadAlg},
		{"hs/rs confusion, with a secret", all, mint(t, jwt.SigningMethodHS256, pemOf(t, &k.rsa.PublicKey), testClaims{Exp: hour, Sub: []string{"*"}}), tokBadSignature},
		{"hs/ec confusion", ecOnly, mint(t, jwt.SigningMethodHS256, pemOf(t, &k.ec.PublicKey), testClaims{Exp: hour, Sub: []string{"*"}}), tokBadAlg},
		{"rs256 where only es256 is configured", ecOnly, mint(t, jwt.SigningMethodRS256, k.rsa, testClaims{Exp: hour, Sub: grant}), tokBadAlg},
		{"rs384 where rs256 is configured", rsaOnly, mint(t, jwt.SigningMethodRS384, k.rsa, testClaims{Exp: hour, Sub: grant}), tokBadAlg},
		{"ps256 where rs256 is configured", rsaOnly, mint(t, jwt.SigningMethodPS256, k.rsa, testClaims{Exp: hour, Sub: grant}), tokBadAlg},
		{"tampered payload", all, tamper(t, valid, testClaims{Exp: hour, Sub: []string{"*"}}.mapClaims(time.Now())), tokBadSignature},
		{"tampered payload, rs256", all, tamper(t, mint(t, jwt.SigningMethodRS256, k.rsa, testClaims{Exp: hour, Sub: grant}), testClaims{Exp: hour, Sub: []string{"*"}}.mapClaims(time.Now())), tokBadSignature},
		{"not a jwt", all, "hello", tokMalformed},
		{"bad base64", all, "a.b.c", tokMalformed},
		{"audience matches", strict, mint(t, jwt.SigningMethodHS256, k.secret, testClaims{Exp: hour, Sub: grant, Aud: "ringcast.example", Iss: "https://app.example"}), ""},
		{"audience wrong", strict, mint(t, jwt.SigningMethodHS256, k.secret, testClaims{Exp: hour, Sub: grant, Aud: "other", Iss: "https://app.example"}), tokBadAudience},
		{"audience missing", strict, mint(t, jwt.SigningMethodHS256, k.secret, testClaims{Exp: hour, Sub: grant, Iss: "https://app.example"}), tokMissingClaim},
		{"issuer wrong", strict, mint(t, jwt.SigningMethodHS256, k.secret, testClaims{Exp: hour, Sub: grant, Aud: "ringcast.example", Iss: "https://evil.example"}), tokBadIssuer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := newJWTVerifier(&tc.cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			g, err := v.verify(tc.token)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if g.expires <= time.Now().UnixNano() {
					t.Errorf("expires %v: in the past", time.Unix(0, g.expires))
				}
				return
			}
			te, ok := err.(*tokenError)
			if !ok {
				t.Fatalf("got grant %+v, err %v; want a refusal (%s)", g, err, tc.reason)
			}
			if te.reason != tc.reason {
				t.Fatalf("reason %q (%s); want %q", te.reason, te.msg, tc.reason)
			}
			if strings.Contains(te.msg, tc.token) {
				t.Errorf("the message echoes the token: %s", te.msg)
			}
		})
	}
}

func TestJWTClaimShape(t *testing.T) {
	k := testKeys()
	v, err := newJWTVerifier(&Config{JWTSecret: k.secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Unix()
	cases := []struct {
		name     string
		claim    any
		reason   string
		sub, pub []string // topics that must be allowed
		notSub   []string // topics that must not be
	}{
		{"lists", map[string]any{"subscribe": []string{"a", "b.*"}, "publish": []string{"a"}}, "", []string{"a", "b.x"}, []string{"a"}, []string{"c", "b"}},
		{"no claim grants nothing", nil, "", nil, nil, []string{"a"}},
		{"subscribe not a list", map[string]any{"subscribe": "a"}, tokMalformed, nil, nil, nil},
		{"a number in the list", map[string]any{"subscribe": []any{"a", 3}}, tokMalformed, nil, nil, nil},
		{"an empty topic", map[string]any{"subscribe": []string{""}}, tokMalformed, nil, nil, nil},
		{"a control character", map[string]any{"publish": []string{"a\nb"}}, tokMalformed, nil, nil, nil},
		{"star", map[string]any{"subscribe": []string{"x", "*"}}, "", []string{"anything", "x"}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := jwt.MapClaims{"exp": exp}
			if tc.claim != nil {
				m["ringcast"] = tc.claim
			}
			raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, m).SignedString(k.secret)
			if err != nil {
				t.Fatal(err)
			}
			g, err := v.verify(raw)
			if tc.reason != "" {
				if te, ok := err.(*tokenError); !ok || te.reason != tc.reason {
					t.Fatalf("err %v; want reason %s", err, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.sub {
				if !g.subscribe.allows(s) {
					t.Errorf("subscribe %q refused", s)
				}
			}
			for _, s := range tc.pub {
				if !g.publish.allows(s) {
					t.Errorf("publish %q refused", s)
				}
			}
			for _, s := range tc.notSub {
				if g.subscribe.allows(s) {
					t.Errorf("subscribe %q allowed", s)
				}
			}
		})
	}
}

func TestTopicGrantBoundaries(t *testing.T) {
	cases := []struct {
		grant  []string
		topic  string
		allows bool
	}{
		{[]string{"team.7.*"}, "team.7.x", true},
		{[]string{"team.7.*"}, "team.7.x.y", true},
		{[]string{"team.7.*"}, "team.7.", true},
		{[]string{"team.7.*"}, "team.70.x", false},
		{[]string{"team.7.*"}, "team.7", false},
		{[]string{"team.7.*"}, "team.", false},
		{[]string{"team.7.*"}, "xteam.7.x", false},
		{[]string{"team.7.*"}, "TEAM.7.x", false},
		{[]string{"team.7*"}, "team.70", true}, // the pattern said so
		{[]string{"user.42"}, "user.42", true},
		{[]string{"user.42"}, "user.420", false},
		{[]string{"user.42"}, "user.4", false},
		{[]string{"user.42"}, "user.42.x", false},
		{[]string{"a*b"}, "a*b", true}, // a '*' inside a name is part of it
		{[]string{"a*b"}, "axb", false},
		{[]string{"*"}, "anything.at.all", true},
		{[]string{}, "a", false},
		{nil, "a", false},
		{[]string{"é.*"}, "é.x", true},
		{[]string{"é.*"}, "è.x", false},
	}
	for _, tc := range cases {
		g, err := parseTopicGrant(tc.grant)
		if err != nil {
			t.Fatalf("%q: %v", tc.grant, err)
		}
		if got := g.allows(tc.topic); got != tc.allows {
			t.Errorf("%q allows %q: %v; want %v", tc.grant, tc.topic, got, tc.allows)
		}
	}
}

// TestJWTCacheNeverOutlivesExpiry: a verified token is remembered, but a
// cache hit past its exp+leeway is a miss, and the full check refuses it
// (J3).
func TestJWTCacheNeverOutlivesExpiry(t *testing.T) {
	k := testKeys()
	now := time.Now()
	clock := func() time.Time { return now }
	v, err := newJWTVerifier(&Config{JWTSecret: k.secret, JWTLeeway: -1}, clock)
	if err != nil {
		t.Fatal(err)
	}
	raw := mint(t, jwt.SigningMethodHS256, k.secret, testClaims{Exp: 10 * time.Second, Sub: []string{"a"}})
	g1, err := v.verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	g2, err := v.verify(raw)
	if err != nil || g2 != g1 {
		t.Fatalf("second verify: %p %v; want the cached %p", g2, err, g1)
	}
	now = time.Unix(0, g1.expires)
	if g, err := v.verify(raw); err == nil {
		t.Fatalf("accepted at its expiry: %+v", g)
	} else if te := err.(*tokenError); te.reason != tokExpired {
		t.Fatalf("reason %s; want %s", te.reason, tokExpired)
	}
}

func TestJWTConfigErrors(t *testing.T) {
	k := testKeys()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		cfg   Config
		field string
	}{
		{Config{JWTSecret: []byte("short")}, "JWTSecret"},
		{Config{JWTKeys: []JWTKey{{Key: &small.PublicKey}}}, "JWTKeys"},
		{Config{JWTKeys: []JWTKey{{Key: &k.ec.PublicKey}, {Key: k.secret}}}, "JWTKeys"},
		{Config{JWTKeys: []JWTKey{{Key: &k.ec.PublicKey, Alg: "RS256"}}}, "JWTKeys"},
		{Config{JWTKeys: []JWTKey{{Key: &k.rsa.PublicKey, Alg: "HS256"}}}, "JWTKeys"},
		{Config{JWTSecret: k.secret, JWTLeeway: 2 * time.Hour}, "JWTLeeway"},
	}
	for _, tc := range cases {
		_, err := newJWTVerifier(&tc.cfg, nil)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("err %v; want a *ConfigError naming %s", err, tc.field)
		}
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestParseJWTKeys(t *testing.T) {
	k := testKeys()
	ecPub := &k.ec.PublicKey
	ecBytes, err := ecPub.Bytes() // 0x04 || x || y
	if err != nil {
		t.Fatal(err)
	}
	x, y := ecBytes[1:33], ecBytes[33:]
	edPub := k.ed.Public().(ed25519.PublicKey)
	rsaN := b64(k.rsa.N.Bytes())
	jwks := fmt.Sprintf(`{"keys":[
		{"kty":"RSA","kid":"r1","use":"sig","n":%q,"e":"AQAB"},
		{"kty":"EC","kid":"e1","crv":"P-256","x":%q,"y":%q},
		{"kty":"OKP","kid":"d1","crv":"Ed25519","x":%q},
		{"kty":"RSA","kid":"enc","use":"enc","n":%q,"e":"AQAB"}]}`,
		rsaN, b64(x), b64(y), b64(edPub), rsaN)
	privDER, err := x509.MarshalPKCS8PrivateKey(k.ec)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		data  string
		algs  []string // want these keys, in order
		error string   // or an error containing this
	}{
		{"pem rsa", string(pemOf(t, &k.rsa.PublicKey)), []string{"RS256"}, ""},
		{"pem three keys", string(pemOf(t, &k.rsa.PublicKey)) + string(pemOf(t, ecPub)) + string(pemOf(t, edPub)), []string{"RS256", "ES256", "EdDSA"}, ""},
		{"pem pkcs1", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)})), []string{"RS256"}, ""},
		{"pem private key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})), nil, "public key only"},
		{"nothing", "hello", nil, "no key found"},
		{"jwks", jwks, []string{"RS256", "ES256", "EdDSA"}, ""},
		{"single jwk", fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","x":%q}`, b64(edPub)), []string{"EdDSA"}, ""},
		{"jwk alg", fmt.Sprintf(`{"kty":"RSA","alg":"PS256","n":%q,"e":"AQAB"}`, rsaN), []string{"PS256"}, ""},
		{"jwk alg against its type", fmt.Sprintf(`{"kty":"RSA","alg":"ES256","n":%q,"e":"AQAB"}`, rsaN), nil, "does not fit"},
		{"jwk private", fmt.Sprintf(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":%q,"d":"AAAA"}]}`, b64(edPub)), nil, "private key"},
		{"jwk oct", `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, nil, "shared secret"},
		{"jwk point off the curve", fmt.Sprintf(`{"kty":"EC","crv":"P-256","x":%q,"y":%q}`, b64(x), b64(x)), nil, "JWKS key 1"},
		{"jwk short x", fmt.Sprintf(`{"kty":"EC","crv":"P-256","x":%q,"y":%q}`, b64(x[1:]), b64(y)), nil, "31 bytes"},
		{"jwk curve", `{"kty":"EC","crv":"secp256k1","x":"AA","y":"AA"}`, nil, "secp256k1"},
		{"jwks only encryption keys", fmt.Sprintf(`{"keys":[{"kty":"RSA","use":"enc","n":%q,"e":"AQAB"}]}`, rsaN), nil, "no signature key"},
		{"jwks bad json", `{"keys":[`, nil, "JWKS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := ParseJWTKeys([]byte(tc.data))
			if tc.error != "" {
				if err == nil || !strings.Contains(err.Error(), tc.error) {
					t.Fatalf("err %v; want one containing %q", err, tc.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var algs []string
			for _, k := range keys {
				algs = append(algs, k.Alg)
			}
			if fmt.Sprint(algs) != fmt.Sprint(tc.algs) {
				t.Fatalf("algs %v; want %v", algs, tc.algs)
			}
		})
	}
	// The keys of the JWKS verify tokens signed by their private halves,
	// by kid.
	keys, err := ParseJWTKeys([]byte(jwks))
	if err != nil {
		t.Fatal(err)
	}
	v, err := newJWTVerifier(&Config{JWTKeys: keys}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{
		mint(t, jwt.SigningMethodRS256, k.rsa, testClaims{Exp: time.Hour, Kid: "r1"}),
		mint(t, jwt.SigningMethodES256, k.ec, testClaims{Exp: time.Hour, Kid: "e1"}),
		mint(t, jwt.SigningMethodEdDSA, k.ed, testClaims{Exp: time.Hour, Kid: "d1"}),
	} {
		if _, err := v.verify(tok); err != nil {
			t.Errorf("a JWKS key does not verify its token: %v", err)
		}
	}
}

// FuzzJWTVerify: whatever the bytes, verify answers a grant only for a
// token the secret signed (the seeds), and a refusal with a known reason
// otherwise; it never panics.
func FuzzJWTVerify(f *testing.F) {
	k := testKeys()
	valid := map[string]bool{}
	// Fixed claims, so that every fuzzing process mints the same seeds.
	for _, c := range []jwt.MapClaims{
		{"exp": 4102444800, "ringcast": map[string]any{"subscribe": []string{"user.42", "team.7.*"}}},
		{"exp": 4102444800, "nbf": 1000, "aud": "x", "ringcast": map[string]any{"subscribe": []string{"*"}, "publish": []string{"a"}}},
	} {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(k.secret)
		if err != nil {
			f.Fatal(err)
		}
		valid[tok] = true
		f.Add(tok)
		f.Add(tamper(f, tok, jwt.MapClaims{"exp": 4102444800, "ringcast": map[string]any{"subscribe": []string{"*"}}}))
	}
	f.Add(mint(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, testClaims{Exp: time.Hour}))
	f.Add(mint(f, jwt.SigningMethodES256, k.ec, testClaims{Exp: time.Hour}))
	f.Add("a.b.c")
	f.Add("")
	v, err := newJWTVerifier(&Config{JWTSecret: k.secret}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		g, err := v.verify(raw)
		if err == nil {
			if !valid[raw] {
				t.Fatalf("accepted a token the secret did not sign: %q (grant %+v)", raw, g)
			}
			return
		}
		te, ok := err.(*tokenError)
		if !ok || !slices.Contains(tokReasons, te.reason) || te.msg == "" {
			t.Fatalf("%q: error %#v", raw, err)
		}
	})
}

// TestJWTVerifyConcurrent: connections verify at once (fasthttp workers);
// the verifier and its cache are shared (run with -race).
func TestJWTVerifyConcurrent(t *testing.T) {
	k := testKeys()
	v, err := newJWTVerifier(&Config{JWTSecret: k.secret, JWTKeys: []JWTKey{{Key: &k.ec.PublicKey}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	shared := mint(t, jwt.SigningMethodES256, k.ec, testClaims{Exp: time.Hour, Sub: []string{"a"}})
	var wg sync.WaitGroup
	errs := make(chan error, 8*50)
	for w := range 8 {
		own := mint(t, jwt.SigningMethodHS256, k.secret, testClaims{Exp: time.Hour, Sub: []string{fmt.Sprint("w", w)}})
		wg.Go(func() {
			for range 50 {
				for _, tok := range []string{shared, own} {
					if _, err := v.verify(tok); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// libraryClaims is the payload type the claims replace (J4): what the
// library decodes a token's claims into, and the "ringcast" claim as it
// was.
type libraryClaims struct {
	jwt.RegisteredClaims
	Ringcast *struct {
		Subscribe []string `json:"subscribe"`
		Publish   []string `json:"publish"`
	} `json:"ringcast"`
}

// claimSeeds are payloads at the edges of each claim's JSON type.
var claimSeeds = []string{
	`{"exp":1700000000,"sub":"user-42","ringcast":{"subscribe":["a","b.*"],"publish":["a"]}}`,
	`{"exp":1700000000.75}`, `{"exp":-1.5}`, `{"exp":1e9}`, `{"exp":1E+9}`, `{"exp":-0}`, `{"exp":0.0000001}`,
	`{"exp":1e400}`, `{"exp":9.3e18}`, `{"exp":-9.3e18}`, `{"exp":1e308}`, `{"exp":123456789012345678901234567890}`,
	`{"exp":"1700000000"}`, `{"exp":"1.5e3"}`, `{"exp":"abc"}`, `{"exp":"\u0031\u0032"}`, `{"exp":""}`, `{"exp":" 1"}`,
	`{"exp":true}`, `{"exp":false}`, `{"exp":null}`, `{"exp":{}}`, `{"exp":[]}`, `{"exp":[1]}`,
	`{"exp":1,"exp":null}`, `{"exp":null,"exp":2}`, `{"exp":1,"exp":"x"}`, `{"exp":1,"exp":3}`,
	`{"EXP":5}`, `{"Exp":"5"}`, `{"nbf":5.5,"iat":"7"}`, `{"nbf":"x"}`, `{"iat":null,"nbf":null}`, `{"iat":true}`,
	`{"jti":5}`, `{"jti":null}`, `{"jti":"x"}`, `{"jti":{}}`, `{"jti":[]}`, `{"jti":true}`, `{"JTI":1}`,
	`{"aud":"a"}`, `{"aud":["a","b"]}`, `{"aud":5}`, `{"aud":null}`, `{"aud":["a",1]}`, `{"aud":"a","aud":null}`,
	`{"sub":5}`, `{"sub":null}`, `{"iss":["x"]}`, `{"iss":"x","Iss":"y"}`,
	`{"ringcast":null}`, `{"ringcast":{"subscribe":["a"]},"ringcast":null}`, `{"ringcast":{"subscribe":["a"]},"ringcast":{"publish":["b"]}}`,
	`{"ringcast":{"subscribe":"a"}}`, `{"ringcast":[]}`, `{"ringcast":{"subscribe":["a",3]}}`, `{"ringcast":{"subscribe":null}}`,
	`{}`, `[]`, `null`, `"str"`, `123`, `{"exp":1}x`, `{"exp":`, ``, `{"exp":1,"unknown":{"deep":[1,2,{"x":null}]}}`,
	"{\"sub\":\"\xff\"}",
}

// checkClaimsDecode fails t unless payload decodes into claims exactly as
// into libraryClaims (J4), each decoded the way jwt.Parser decodes claims
// (json.Unmarshal into a jwt.Claims holding the pointer).
func checkClaimsDecode(t *testing.T, payload string) {
	var want libraryClaims
	var got claims
	wantI, gotI := jwt.Claims(&want), jwt.Claims(&got)
	wantErr := json.Unmarshal([]byte(payload), &wantI)
	gotErr := json.Unmarshal([]byte(payload), &gotI)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("%s: error %v; the library's %v", payload, gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	date := func(name string, got, want *jwt.NumericDate) {
		if (got == nil) != (want == nil) || got != nil && !got.Equal(want.Time) {
			t.Errorf("%s: %s %v; the library's %v", payload, name, got, want)
		}
	}
	date("exp", got.ExpiresAt.get(), want.ExpiresAt)
	date("nbf", got.NotBefore.get(), want.NotBefore)
	date("iat", got.IssuedAt.get(), want.IssuedAt)
	if got.Issuer != want.Issuer || got.Subject != want.Subject || !slices.Equal(got.Audience, want.Audience) ||
		(got.Audience == nil) != (want.Audience == nil) {
		t.Errorf("%s: iss %q sub %q aud %q; the library's %q %q %q", payload, got.Issuer, got.Subject, got.Audience,
			want.Issuer, want.Subject, want.Audience)
	}
	if (got.Ringcast == nil) != (want.Ringcast == nil) || got.Ringcast != nil &&
		(!slices.Equal(got.Ringcast.Subscribe, want.Ringcast.Subscribe) || !slices.Equal(got.Ringcast.Publish, want.Ringcast.Publish)) {
		t.Errorf("%s: ringcast %+v; the library's %+v", payload, got.Ringcast, want.Ringcast)
	}
}

// TestClaimsDecodeAsTheLibrary: the leaner claims accept and refuse the
// same payloads as jwt.RegisteredClaims, with the same values (J4), so
// that each malformed token keeps its reason.
func TestClaimsDecodeAsTheLibrary(t *testing.T) {
	for _, p := range claimSeeds {
		checkClaimsDecode(t, p)
	}
}

// FuzzClaimsDecode is TestClaimsDecodeAsTheLibrary for any payload (J4).
func FuzzClaimsDecode(f *testing.F) {
	for _, p := range claimSeeds {
		f.Add(p)
	}
	f.Fuzz(checkClaimsDecode)
}

// TestTopicGrantLists: a grant's lists are sorted and without duplicates
// (a pattern selection is built from them), and parsing leaves the claim's
// list as it was: a cached grant must not alias the decoded claims.
func TestTopicGrantLists(t *testing.T) {
	claim := []string{"b.*", "z", "a", "b.*", "a", "c.*", "m"}
	orig := slices.Clone(claim)
	g, err := parseTopicGrant(claim)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(claim, orig) {
		t.Errorf("the claim's list became %q", claim)
	}
	if want := []string{"a", "m", "z"}; !slices.Equal(g.names, want) {
		t.Errorf("names %q; want %q", g.names, want)
	}
	if want := []string{"b.", "c."}; !slices.Equal(g.prefixes, want) {
		t.Errorf("prefixes %q; want %q", g.prefixes, want)
	}
	for _, claim := range [][]string{{"a"}, {"a.*"}, {}} {
		g, _ := parseTopicGrant(claim)
		if len(g.names) == 0 && g.names != nil || len(g.prefixes) == 0 && g.prefixes != nil {
			t.Errorf("%q: an empty list is not nil: %#v", claim, g)
		}
	}
}
