package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// readBufferSize is the size of each connection's read buffer, and so the
// longest status or header line a response may have.
const readBufferSize = 16 << 10

// conn is one keep-alive HTTP/1.1 connection that sends requests already
// serialized to bytes and reads each response just far enough to know its
// status and where it ends. It is leaner than net/http's client, so that
// the load generator takes as little CPU as it can from the servers that
// share the machine with it.
type conn struct {
	addr string
	c    net.Conn
	r    *bufio.Reader
}

func newConn(addr string) *conn {
	return &conn{addr: addr}
}

// do sends one request and returns the response status after reading and
// discarding the body. On any error it closes the connection, and the next
// call dials a new one.
func (c *conn) do(wire []byte) (int, error) {
	if c.c == nil {
		nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return 0, err
		}
		c.c = nc
		if c.r == nil {
			c.r = bufio.NewReaderSize(nc, readBufferSize)
		} else {
			c.r.Reset(nc)
		}
	}

	if _, err := c.c.Write(wire); err != nil {
		c.close()
		return 0, err
	}
	status, keepAlive, err := readResponse(c.r)
	if err != nil {
		c.close()
		return 0, err
	}
	if !keepAlive {
		c.close()
	}
	return status, nil
}

func (c *conn) close() {
	if c.c != nil {
		_ = c.c.Close()
		c.c = nil
	}
}

var errMalformed = errors.New("malformed HTTP response")

// readResponse reads one response from r and discards its body. It
// returns the status and whether the connection may carry another
// request. It understands Content-Length, chunked bodies and bodies that
// end when the connection closes, which covers the three servers under
// test.
func readResponse(r *bufio.Reader) (status int, keepAlive bool, err error) {
	line, err := readLine(r)
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	keepAlive = line[7] == '1'

	contentLength := int64(-1)
	chunked := false
	for {
		line, err = readLine(r)
		if err != nil {
			return 0, false, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, fmt.Errorf("%w: header line %q", errMalformed, line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			contentLength, err = strconv.ParseInt(string(value), 10, 64)
			if err != nil || contentLength < 0 {
				return 0, false, fmt.Errorf("%w: Content-Length %q", errMalformed, value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keepAlive = false
			}
		}
	}

	switch {
	case status < 200 || status == 204 || status == 304:
		return status, keepAlive, nil
	case chunked:
		return status, keepAlive, discardChunked(r)
	case contentLength >= 0:
		_, err = r.Discard(int(contentLength))
		return status, keepAlive, err
	}
	// The body ends when the server closes the connection.
	_, err = io.Copy(io.Discard, r)
	return status, false, err
}

// discardChunked reads and discards a chunked body and its trailer.
func discardChunked(r *bufio.Reader) error {
	for {
		line, err := readLine(r)
		if err != nil {
			return err
		}
		sizeText, _, _ := bytes.Cut(line, []byte(";"))
		size, err := strconv.ParseInt(string(bytes.TrimSpace(sizeText)), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("%w: chunk size line %q", errMalformed, line)
		}
		if size == 0 {
			break
		}
		if _, err := r.Discard(int(size)); err != nil {
			return err
		}
		if line, err = readLine(r); err != nil {
			return err
		} else if len(line) != 0 {
			return fmt.Errorf("%w: no CRLF after a chunk", errMalformed)
		}
	}
	// The trailer ends with an empty line.
	for {
		line, err := readLine(r)
		if err != nil || len(line) == 0 {
			return err
		}
	}
}

// readLine returns the next line without its CRLF. The slice is valid
// until the next read from r.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}
