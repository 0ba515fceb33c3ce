// Package epoll is an epoll instance that waits in Go's netpoller: its
// descriptor is readable while its ready list is not empty, so a goroutine
// waiting for events parks like one blocked in a read, instead of keeping a
// thread (and its P, until sysmon takes it back) in epoll_wait. The load
// generator's event loops and the SSE server's hang-up watcher use it. Linux
// only.
package epoll
