//go:build unix

package transport

// What authentication costs: per connection (BenchmarkConnect) and per
// event (BenchmarkAuthFanout). Both ends run in this process on the same
// cores, so cpu-ns/op (the process's user+system CPU per op, getrusage)
// counts the clients too; compare the variants within one run.
//
//	go test -run '^$' -bench 'Connect|AuthFanout' -benchtime 3000x -count 5 ./transport/

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// cpuNow is the process's user+system CPU time.
func cpuNow(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// connectOnce subscribes with the given Authorization header ("" for none),
// reads the response head and the first frame, and closes.
func connectOnce(b *testing.B, addr, auth string) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	req := "GET /events HTTP/1.0\r\nHost: bench\r\n"
	if auth != "" {
		req += "Authorization: " + auth + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		b.Fatal(err)
	}
	// Under load a keep-alive may come in the same read: look for the
	// frame anywhere.
	var buf [4096]byte
	got := 0
	for !bytes.Contains(buf[:got], []byte("retry: 3000\n\n")) {
		if got == len(buf) {
			b.Fatalf("no retry frame in %q", buf[:got])
		}
		n, err := conn.Read(buf[got:])
		if err != nil {
			b.Fatalf("after %q: %v", buf[:got], err)
		}
		got += n
	}
	conn.Close()
}

// BenchmarkConnect is one subscription's life, from dial to its first
// frame and back to nothing: the client's dial, request, read and close;
// the server's accept, guard, authentication, subscribe, stream start, and
// the stream's end at its next keep-alive (10ms here).
//
//   - auth=none: no credential configured;
//   - auth=static: the static subscribe token;
//   - auth=jwt-*: one signed token for every connection, as a browser's
//     EventSource reconnects with the same cookie: verified on the first,
//     a cache hit (J3) on the others;
//   - auth=jwt-hs256-fresh: a new token per connection, so the signature
//     and claims are checked every time (the first connection of a token).
func BenchmarkConnect(b *testing.B) {
	k := testKeys()
	claim := testClaims{Exp: time.Hour, Sub: []string{"user.42", "team.7.*"}}
	for _, v := range []struct {
		name  string
		cfg   Config
		token func(b *testing.B) string // the Authorization header of one connection
		fresh bool                      // mint b.N tokens beforehand
	}{
		{"auth=none", Config{}, nil, false},
		{"auth=static", Config{SubscribeToken: "static-token"}, func(*testing.B) string { return "Bearer static-token" }, false},
		{"auth=jwt-hs256", Config{JWTSecret: k.secret}, func(b *testing.B) string {
			return "Bearer " + mint(b, jwt.SigningMethodHS256, k.secret, claim)
		}, false},
		{"auth=jwt-es256", Config{JWTKeys: []JWTKey{{Key: &k.ec.PublicKey}}}, func(b *testing.B) string {
			return "Bearer " + mint(b, jwt.SigningMethodES256, k.ec, claim)
		}, false},
		{"auth=jwt-hs256-fresh", Config{JWTSecret: k.secret}, func(b *testing.B) string {
			c := claim
			c.Iss = fmt.Sprint(time.Now().UnixNano()) // unique
			return "Bearer " + mint(b, jwt.SigningMethodHS256, k.secret, c)
		}, true},
	} {
		b.Run(v.name, func(b *testing.B) {
			v.cfg.KeepAlive = 10 * time.Millisecond // streams whose client left end within ~10ms
			ts := benchServer(b, v.cfg)
			auths := make([]string, 1)
			if v.token != nil {
				auths[0] = v.token(b)
				if v.fresh {
					auths = make([]string, b.N)
					for i := range auths {
						auths[i] = v.token(b)
					}
				}
			}
			connectOnce(b, ts.addr, auths[0]) // warm: the first verification, pools
			waitFor(b, "streams to go", 10*time.Second, func() bool { return ts.nStreams.Load() == 0 })
			b.ResetTimer()
			cpu0 := cpuNow(b)
			for i := 0; i < b.N; i++ {
				connectOnce(b, ts.addr, auths[i%len(auths)])
			}
			waitFor(b, "streams to go", 10*time.Second, func() bool { return ts.nStreams.Load() == 0 })
			cpu := cpuNow(b) - cpu0
			b.StopTimer()
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			if n := ts.metric("ringcast_sse_connections_opened_total"); n != float64(b.N+1) {
				b.Fatalf("%v streams opened; want %d", n, b.N+1)
			}
		})
	}
}

// BenchmarkAuthFanout is the cost of delivering one event to 100 idle
// clients of topic t (as BenchmarkFanoutLatency), the clients without a
// credential or with a signed token: the token decides the selection at
// connect, and a grant of exactly t gives the selection ?topic=t gives, so
// the fan-out path is the same code. A prefix grant ("t*") without topics
// is a pattern selection: a filtered reader of the global ring, which costs
// what a subscription to several topics costs.
func BenchmarkAuthFanout(b *testing.B) {
	const clients = 100
	k := testKeys()
	tok := func(sub ...string) string {
		return mint(b, jwt.SigningMethodHS256, k.secret, testClaims{Exp: time.Hour, Sub: sub})
	}
	for _, v := range []struct {
		name string
		cfg  Config
		path string
	}{
		{"auth=none/topic=t", Config{}, "/events?topic=t"},
		{"auth=jwt/claim=t/topic=t", Config{JWTSecret: k.secret}, "/events?topic=t&token=" + tok("t")},
		{"auth=jwt/claim=t/all", Config{JWTSecret: k.secret}, "/events?token=" + tok("t")},
		{"auth=jwt/claim=t*/all", Config{JWTSecret: k.secret}, "/events?token=" + tok("t*")},
	} {
		b.Run(v.name, func(b *testing.B) {
			ts := benchServer(b, v.cfg)
			ts.publish(Event{Topic: "t"}) // the topic exists before the streams
			paths := make([]string, clients)
			for i := range paths {
				paths[i] = v.path
			}
			r, wg := newRoundClients(b, ts, paths)
			b.ResetTimer()
			cpu0 := cpuNow(b)
			for i := range b.N {
				r.round(b, ts, "t", int64(i+2), -1)
			}
			cpu := cpuNow(b) - cpu0
			b.StopTimer()
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
			r.close(wg)
		})
	}
}
