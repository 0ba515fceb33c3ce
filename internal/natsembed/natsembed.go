// Package natsembed starts an in-process nats-server with JetStream: the
// one-binary cluster demo (`ringcast serve --nats-embedded`) and the tests of
// cluster mode. Production deployments run nats-server on its own and pass
// its URL (--nats).
package natsembed

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure Start.
type Options struct {
	// StoreDir holds JetStream's file store; a restart on the same
	// directory keeps every message and the streams' creation times.
	StoreDir string
	// Listen is the client address, host:port; "" or a port of 0 picks a
	// free port on 127.0.0.1.
	Listen string
	// Name names the server (its JetStream node); "" is "ringcast".
	Name string
}

// Start starts the server and returns once it accepts connections. Stop it
// with Shutdown and WaitForShutdown; its URL is ClientURL.
func Start(o Options) (*server.Server, error) {
	host, port := "127.0.0.1", -1 // -1: a random free port
	if o.Listen != "" {
		h, p, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("natsembed: listen address %q: %w", o.Listen, err)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return nil, fmt.Errorf("natsembed: listen address %q: bad port", o.Listen)
		}
		if h != "" {
			host = h
		}
		if n != 0 {
			port = n
		}
	}
	name := o.Name
	if name == "" {
		name = "ringcast"
	}
	ns, err := server.NewServer(&server.Options{
		ServerName: name,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoLog:      true,
		NoSigs:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("natsembed: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("natsembed: the server on %s:%d did not get ready within 10s", host, port)
	}
	return ns, nil
}
