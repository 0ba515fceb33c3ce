package loadgen

import (
	"net"
	"syscall"
	"testing"
)

func sockopt(t *testing.T, c net.Conn, level, opt int) int {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := raw.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), level, opt) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// A slow subscriber's socket gets the small receive buffer, and the server's
// end of the connection sees the Ethernet MSS instead of loopback's 64 KiB,
// which is what keeps the server's send buffer small (Config.SlowRecvBuffer).
func TestSlowSocketControl(t *testing.T) {
	for _, slow := range []bool{false, true} {
		d := net.Dialer{}
		if slow {
			d.Control = slowSocketControl(4096)
		}
		c, srv := loopbackPair(t, &d)
		rcvBuf := sockopt(t, c, syscall.SOL_SOCKET, syscall.SO_RCVBUF)
		mss := sockopt(t, srv, syscall.IPPROTO_TCP, syscall.TCP_MAXSEG)
		t.Logf("slow %v: client SO_RCVBUF %d, server MSS %d", slow, rcvBuf, mss)
		// Linux doubles SO_RCVBUF for its bookkeeping; the default is 128 KiB
		// (tcp_rmem), loopback's MSS tens of KiB.
		if small := rcvBuf <= 2*4096; small != slow {
			t.Errorf("slow %v: client SO_RCVBUF %d", slow, rcvBuf)
		}
		if small := mss <= slowMSS; small != slow {
			t.Errorf("slow %v: server MSS %d", slow, mss)
		}
	}
}
