//go:build unix

package route

import "syscall"

// open reports whether the upstream has left the pooled connection alone:
// not closed it and not sent anything unasked. It peeks at the socket
// without waiting, which costs one system call, so that a request is
// never written to a connection that the upstream already closed.
func (pc *leanConn) open() bool {
	if pc.raw == nil {
		return true
	}
	if pc.br.Buffered() > 0 {
		return false
	}
	var buf [1]byte
	alive := false
	err := pc.raw.Read(func(fd uintptr) bool {
		// Only EAGAIN leaves it usable: a byte would be a response to no
		// request, and 0 bytes mean EOF.
		_, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true
	})
	return err == nil && alive
}
