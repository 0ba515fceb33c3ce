package transport

import (
	"net"
	"testing"
)

// BenchmarkGuardAdmit is the guard's cost per connection: counting it in at
// Accept (with the per-address limit on, the slower path) and out at Close.
//
//	go test -run '^$' -bench GuardAdmit -benchmem -count 5 ./transport/
func BenchmarkGuardAdmit(b *testing.B) {
	s, err := New(Config{MaxConns: 1 << 30, MaxConnsPerIP: 1 << 30, Logger: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.eng.close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	raw, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	b.ReportAllocs()
	for b.Loop() {
		gc := s.guard.admit(raw)
		guardedConn(gc).closed.Store(true) // release without closing the socket
		s.guard.release(guardedConn(gc))
	}
	if n := s.guard.openConns(); n != 0 {
		b.Fatalf("%d connections still counted", n)
	}
}
