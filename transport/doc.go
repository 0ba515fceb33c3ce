// Package transport is ringcast's Server-Sent Events server on fasthttp: one
// publisher's events fanned out to many streaming clients, with resume,
// slow-client policies, batching, metrics and defences.
//
// The design, in the order a request and an event travel it:
//
//	listener, guard      connection limits, tokens, request limits (guard.go);
//	                     the fasthttp server configured in one place (httpserver.go)
//	router               Server: New, Serve, Shutdown, routes (server.go);
//	                     health, metrics, index, CORS (handlers.go, cors.go, web.go)
//	publish path         POST /publish and Publish: parse, validate, encode (publish.go)
//	frames               an event encoded once, notices, batches (frame.go)
//	engine               sequences and fan-out (engine.go): ring (ringengine.go)
//	                     or chan (chanengine.go); resume points (resume.go)
//	streams              GET /events (events.go), one goroutine per client:
//	                     wait, pace (pacing.go), fill a batch, write (stream.go)
//	socket               one write per batch, chunked; departure noticed when it
//	                     happens (hangup_linux.go), else at a keep-alive (peer_unix.go)
//	cluster mode         nodes share an event log on NATS JetStream (eventlog.go,
//	                     jetstream.go), each follows it into its ring (follower.go,
//	                     logengine.go); publish and resume through it (cluster.go);
//	                     docs/cluster.md
//
// Config is validated in config.go; errors are typed (errors.go). The wire
// protocol is docs/protocol.md, the design and figures docs/transport.md.
package transport
