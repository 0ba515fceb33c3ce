package transport

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// BenchmarkJWTVerify is the cost of checking one signed token: the full
// check (signature and claims: a token's first connection) per algorithm,
// and a cache hit (every reconnection of the same token).
//
//	go test -run '^$' -bench JWTVerify -benchmem -count 5 ./transport/
func BenchmarkJWTVerify(b *testing.B) {
	k := testKeys()
	grant := testClaims{Exp: time.Hour, Sub: []string{"user.42", "team.7.*"}, Pub: []string{"user.42"}}
	cfg := Config{JWTSecret: k.secret, JWTKeys: []JWTKey{{Key: &k.rsa.PublicKey}, {Key: &k.ec.PublicKey}, {Key: k.ed.Public()}}}
	v, err := newJWTVerifier(&cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, alg := range []struct {
		name   string
		method jwt.SigningMethod
		key    any
	}{
		{"HS256", jwt.SigningMethodHS256, k.secret},
		{"RS256", jwt.SigningMethodRS256, k.rsa},
		{"ES256", jwt.SigningMethodES256, k.ec},
		{"EdDSA", jwt.SigningMethodEdDSA, k.ed},
	} {
		raw := mint(b, alg.method, alg.key, grant)
		b.Run(alg.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.check(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg.name+"/cached", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.verify(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
