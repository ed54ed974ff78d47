//go:build !unix

package route

// open reports whether the pooled connection may carry a request. This
// build cannot peek at the socket, so only unread bytes rule it out. A
// connection that the upstream closed fails on use, and RoundTrip then
// sends a replayable request again on a new one.
func (pc *leanConn) open() bool {
	return pc.br.Buffered() == 0
}
