package transport_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ringcast/ringcast/transport"
)

// How an application's backend mints a token for one user: HS256 with the
// secret it shares with ringcast (--jwt-secret), a short life, and the
// "ringcast" claim naming the topics the user may read and write. Topics
// are names ("user.42") or prefix patterns ("team.7.*": team.7.x, not
// team.70.x). The browser gets it as the ringcast_token cookie, a program
// as "Authorization: Bearer <token>".
func mintToken(secret []byte, user string, subscribe, publish []string) (string, error) {
	claims := jwt.MapClaims{
		"sub": user,
		"exp": time.Now().Add(15 * time.Minute).Unix(), // required: every token ends
		"ringcast": map[string]any{
			"subscribe": subscribe,
			"publish":   publish,
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}

// Per-client authorization with signed tokens: user 42 may read its own
// topic and its team's, and nothing else; the stream it gets without naming
// topics holds exactly those.
func Example_signedTokens() {
	secret := []byte("a-secret-of-at-least-32-bytes-shared-with-the-backend")
	srv, err := transport.New(transport.Config{
		JWTSecret: secret,
		Epoch:     "demo",
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	base := "http://" + ln.Addr().String()

	token, err := mintToken(secret, "user-42", []string{"user.42", "team.7.*"}, nil)
	if err != nil {
		panic(err)
	}
	subscribe := func(query string) *http.Response {
		req, _ := http.NewRequest("GET", base+"/events"+query, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		return resp
	}

	denied := subscribe("?topic=team.70.chat")
	body, _ := io.ReadAll(denied.Body)
	denied.Body.Close()
	fmt.Print(denied.StatusCode, " ", string(body))

	resp := subscribe("") // no topics: every topic the token allows
	defer resp.Body.Close()
	stream := bufio.NewReader(resp.Body)
	for _, topic := range []string{"team.70.chat", "user.42", "user.43", "team.7.chat"} {
		if _, err := srv.Publish(transport.Event{Topic: topic, Data: []byte("to " + topic)}); err != nil {
			panic(err)
		}
	}
	for seen := 0; seen < 2; {
		line, err := stream.ReadString('\n')
		if err != nil {
			panic(err)
		}
		if strings.HasPrefix(line, "data: ") {
			fmt.Print(line)
			seen++
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		panic(err)
	}
	// Output:
	// 403 {"error":"topic \"team.70.chat\" is outside the token's subscribe claim"}
	// data: to user.42
	// data: to team.7.chat
}
