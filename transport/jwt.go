package transport

// Signed tokens (JWT): the application's backend signs, for each user, a
// short-lived token that names the topics the user may subscribe to and
// publish to (topicgrant.go); the server verifies it once per connection or
// request with github.com/golang-jwt/jwt/v5. The claim format, how to mint a
// token and the threats are in docs/security.md.
//
// Invariants:
//   J1. The algorithm is pinned by the configuration, never chosen by the
//       token: the parser accepts only the algorithms configured (HS256 with
//       JWTSecret, each JWTKey's Alg), so "none" never verifies, and the
//       keyfunc hands HS256 the secret and nothing else, and each public-key
//       algorithm only the keys configured for it (no HS/RS confusion: a
//       public key is never used as an HMAC secret).
//   J2. A token is accepted from nbf (and iat) minus the leeway until exp
//       plus the leeway, by this server's clock; exp is required, so every
//       token ends. A stream of the token ends at that same instant
//       (grant.expires).
//   J3. The cache holds only tokens that verified, keyed by the whole token,
//       and never answers for one past its grant.expires: a cache hit is the
//       answer a full verification would give now.
//   J4. The claims decode exactly as jwt.RegisteredClaims and the "ringcast"
//       claim's struct do: every payload that they accept, these accept with
//       the same values, and every payload they refuse (a malformed token),
//       these refuse (TestClaimsDecodeAsTheLibrary, FuzzClaimsDecode).

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Reasons a signed token is refused: the label of
// ringcast_token_rejected_total.
const (
	tokMissing      = "missing"       // no credential at all
	tokMalformed    = "malformed"     // not a JWT, bad base64 or JSON, a bad "ringcast" claim
	tokBadAlg       = "bad-alg"       // an algorithm not configured: "none", HS/RS confusion
	tokUnknownKey   = "unknown-key"   // a kid that no configured key has
	tokBadSignature = "bad-signature" // tampered, or signed with another key
	tokExpired      = "expired"
	tokNotYetValid  = "not-yet-valid" // nbf or iat in the future
	tokMissingClaim = "missing-claim" // no exp, or no aud/iss where required
	tokBadAudience  = "bad-audience"
	tokBadIssuer    = "bad-issuer"
	tokForbidden    = "forbidden-topic" // valid, but not for this topic
)

var tokReasons = []string{tokMissing, tokMalformed, tokBadAlg, tokUnknownKey, tokBadSignature, tokExpired,
	tokNotYetValid, tokMissingClaim, tokBadAudience, tokBadIssuer, tokForbidden}

// DefaultJWTLeeway is the clock skew allowed on exp, nbf and iat.
const DefaultJWTLeeway = 5 * time.Second

// jwtEnabled reports whether signed tokens are configured.
func (c *Config) jwtEnabled() bool { return len(c.JWTSecret) > 0 || len(c.JWTKeys) > 0 }

// tokenError is a refused token: the metric's reason and what to tell the
// client.
type tokenError struct {
	reason string
	msg    string
}

func (e *tokenError) Error() string { return e.msg }

// claims is the payload of a ringcast token: jwt.RegisteredClaims and the
// "ringcast" claim, decoded by the same encoding/json call, field names and
// JSON types as jwt.RegisteredClaims (J4), but without what a token's first
// connection paid for and never used: a nested json.Unmarshal and an
// allocation per NumericDate, and a copy of jti.
type claims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.ClaimStrings `json:"aud"`
	ExpiresAt numericDate      `json:"exp"`
	NotBefore numericDate      `json:"nbf"`
	IssuedAt  numericDate      `json:"iat"`
	ID        stringClaim      `json:"jti"`
	Ringcast  *struct {
		Subscribe []string `json:"subscribe"`
		Publish   []string `json:"publish"`
	} `json:"ringcast"`
}

// The jwt.Claims that jwt.Validator reads: a numericDate not in the token
// is nil, as a *jwt.NumericDate field would be.
func (c *claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt.get(), nil }
func (c *claims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore.get(), nil }
func (c *claims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt.get(), nil }
func (c *claims) GetAudience() (jwt.ClaimStrings, error)       { return c.Audience, nil }
func (c *claims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *claims) GetSubject() (string, error)                  { return c.Subject, nil }

// numericDate decodes what a *jwt.NumericDate field decodes, to the same
// instant, and refuses what it refuses (J4). null leaves a pointer field
// nil; here it clears set, even after an earlier duplicate of the key.
type numericDate struct {
	t   jwt.NumericDate
	set bool
}

func (d *numericDate) get() *jwt.NumericDate {
	if !d.set {
		return nil
	}
	return &d.t
}

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = numericDate{}
		return nil
	}
	if b[0] != '-' && (b[0] < '0' || b[0] > '9') {
		// A string holding a number, or a type it refuses: the library's
		// own decoder says which.
		if err := d.t.UnmarshalJSON(b); err != nil {
			return err
		}
		d.set = true
		return nil
	}
	// A JSON number literal (encoding/json checked its syntax): what
	// jwt.NumericDate.UnmarshalJSON does with it, without decoding it into
	// a json.Number by a second json.Unmarshal.
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("could not convert json number value to float: %w", err)
	}
	round, frac := math.Modf(f)
	d.t = *jwt.NewNumericDate(time.Unix(int64(round), int64(frac*1e9)))
	d.set = true
	return nil
}

// stringClaim is a claim that must be a string (or null), as a string
// field requires, and whose value nothing here reads ("jti").
type stringClaim struct{}

var errNotString = errors.New("the claim is not a string")

func (stringClaim) UnmarshalJSON(b []byte) error {
	if b[0] == '"' || string(b) == "null" {
		return nil
	}
	return errNotString
}

// jwtVerifier checks signed tokens and turns them into grants.
type jwtVerifier struct {
	parser *jwt.Parser
	secret []byte              // HS256; nil: off
	keys   map[string][]JWTKey // by alg
	leeway time.Duration
	now    func() time.Time
	cache  tokenCache
}

var errUnknownKey = errors.New("no configured key has this kid")

// minJWTSecret is the shortest HS256 secret accepted: a key as long as the
// hash (RFC 7518, 3.2).
const minJWTSecret = 32

// newJWTVerifier builds the verifier of cfg's JWT fields, or returns nil
// when signed tokens are off. now is the clock (tests); nil: time.Now.
func newJWTVerifier(cfg *Config, now func() time.Time) (*jwtVerifier, error) {
	if !cfg.jwtEnabled() {
		return nil, nil
	}
	if now == nil {
		now = time.Now
	}
	leeway := cfg.JWTLeeway
	switch {
	case leeway == 0:
		leeway = DefaultJWTLeeway
	case leeway < 0:
		leeway = 0
	case leeway > time.Hour:
		return nil, configError("JWTLeeway", ErrOutOfRange, "%v exceeds an hour: it allows for clock skew, it is not a validity period", leeway)
	}
	v := &jwtVerifier{keys: map[string][]JWTKey{}, leeway: leeway, now: now}
	var methods []string
	if len(cfg.JWTSecret) > 0 {
		if len(cfg.JWTSecret) < minJWTSecret {
			return nil, configError("JWTSecret", ErrOutOfRange, "of %d bytes is too short: HS256 needs at least %d (e.g. openssl rand -hex 32)", len(cfg.JWTSecret), minJWTSecret)
		}
		v.secret = slices.Clone(cfg.JWTSecret)
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	for i, k := range cfg.JWTKeys {
		k, err := checkJWTKey(k)
		if err != nil {
			return nil, configError("JWTKeys", ErrMalformed, "key %d: %v", i+1, err)
		}
		if !slices.Contains(methods, k.Alg) {
			methods = append(methods, k.Alg)
		}
		v.keys[k.Alg] = append(v.keys[k.Alg], k)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods), // J1
		jwt.WithLeeway(v.leeway),
		jwt.WithExpirationRequired(), // J2
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(), // one encoding per token: no malleable trailing bits
		jwt.WithTimeFunc(now),
	}
	if cfg.JWTAudience != "" {
		opts = append(opts, jwt.WithAudience(cfg.JWTAudience))
	}
	if cfg.JWTIssuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.JWTIssuer))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// keyfunc returns the key(s) that may verify t (J1).
func (v *jwtVerifier) keyfunc(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if alg == jwt.SigningMethodHS256.Alg() {
		if v.secret == nil {
			return nil, errors.New("HS256 is not configured")
		}
		return v.secret, nil
	}
	kid, _ := t.Header["kid"].(string)
	var set jwt.VerificationKeySet
	for _, k := range v.keys[alg] {
		if kid == "" || k.ID == "" || k.ID == kid {
			set.Keys = append(set.Keys, k.Key)
		}
	}
	switch len(set.Keys) {
	case 0:
		if len(v.keys[alg]) == 0 {
			return nil, errors.New(alg + " is not configured") // WithValidMethods stops it first
		}
		return nil, errUnknownKey
	case 1:
		return set.Keys[0], nil
	}
	return set, nil
}

// verify checks raw and returns its grant (J3: from the cache when it is
// there), or a *tokenError.
func (v *jwtVerifier) verify(raw string) (*grant, error) {
	if g := v.cache.get(raw, v.now().UnixNano()); g != nil {
		return g, nil
	}
	g, err := v.check(raw)
	if err != nil {
		return nil, err
	}
	v.cache.put(raw, g)
	return g, nil
}

// check is verify without the cache: the signature and the claims.
func (v *jwtVerifier) check(raw string) (*grant, error) {
	var c claims
	tok, err := v.parser.ParseWithClaims(raw, &c, v.keyfunc)
	if err != nil {
		return nil, v.classify(tok, err)
	}
	g := &grant{subject: c.Subject, expires: c.ExpiresAt.t.Add(v.leeway).UnixNano()}
	if c.Ringcast != nil {
		if g.subscribe, err = parseTopicGrant(c.Ringcast.Subscribe); err == nil {
			g.publish, err = parseTopicGrant(c.Ringcast.Publish)
		}
		if err != nil {
			return nil, &tokenError{tokMalformed, `the token's "ringcast" claim: ` + err.Error()}
		}
	}
	return g, nil
}

// classify turns the parser's error into a reason and a message that says
// what to fix, without echoing the token.
func (v *jwtVerifier) classify(tok *jwt.Token, err error) *tokenError {
	alg := ""
	if tok != nil && tok.Method != nil {
		alg = tok.Method.Alg()
	} else if tok != nil {
		alg, _ = tok.Header["alg"].(string)
	}
	algOK := alg == jwt.SigningMethodHS256.Alg() && v.secret != nil || len(v.keys[alg]) > 0
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return &tokenError{tokMalformed, "the token is not a well-formed JWT (header.payload.signature, base64url JSON)"}
	case !algOK:
		return &tokenError{tokBadAlg, fmt.Sprintf("the token's alg %q is not accepted here; this server verifies %s", alg, v.algs())}
	case errors.Is(err, errUnknownKey):
		return &tokenError{tokUnknownKey, "the token's kid names no key this server has"}
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return &tokenError{tokBadSignature, "the token's signature does not verify"}
	case errors.Is(err, jwt.ErrTokenExpired):
		return &tokenError{tokExpired, "the token has expired: get a fresh one"}
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return &tokenError{tokNotYetValid, "the token is not valid yet (nbf or iat in the future: check the clocks)"}
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return &tokenError{tokMissingClaim, "the token lacks a required claim (exp; aud or iss where this server checks them)"}
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return &tokenError{tokBadAudience, "the token's aud does not name this server"}
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return &tokenError{tokBadIssuer, "the token's iss is not the issuer this server trusts"}
	}
	return &tokenError{tokMalformed, "the token's claims are malformed (exp, nbf and iat are numbers; aud a string or a list)"}
}

// algs lists the algorithms configured, for messages.
func (v *jwtVerifier) algs() string {
	var list []string
	if v.secret != nil {
		list = append(list, jwt.SigningMethodHS256.Alg())
	}
	for alg := range v.keys {
		list = append(list, alg)
	}
	slices.Sort(list)
	return fmt.Sprint(list)
}

// tokenCacheSize bounds the verified tokens remembered. A browser's
// EventSource reconnects with the same cookie every time, so the second
// connection of a token skips the signature check.
const tokenCacheSize = 4096

// tokenCache remembers verified tokens (J3).
type tokenCache struct {
	mu sync.Mutex
	m  map[string]*grant
}

func (c *tokenCache) get(raw string, now int64) *grant {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.m[raw]
	if g != nil && now >= g.expires {
		delete(c.m, raw)
		return nil
	}
	return g
}

func (c *tokenCache) put(raw string, g *grant) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]*grant)
	}
	if len(c.m) >= tokenCacheSize {
		for k := range c.m { // map order is random: evict one at random
			delete(c.m, k)
			break
		}
	}
	c.m[raw] = g
}
