package main

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// latencyProxy forwards TCP connections to a backend, delaying every chunk
// by half the RTT in each direction, and counts connections and the
// client's flights (see main).
type latencyProxy struct {
	ln          net.Listener
	oneWay      time.Duration
	connections atomic.Int64
	flights     atomic.Int64
}

func startLatencyProxy(backend string, rtt time.Duration) *latencyProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	p := &latencyProxy{ln: ln, oneWay: rtt / 2}
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", backend)
			if err != nil {
				client.Close()
				continue
			}
			p.connections.Add(1)
			go p.serve(client.(*net.TCPConn), server.(*net.TCPConn))
		}
	}()
	return p
}

func (p *latencyProxy) Addr() string { return p.ln.Addr().String() }
func (p *latencyProxy) Close()       { p.ln.Close() }

// Counts returns the connections and client flights seen so far.
func (p *latencyProxy) Counts() (int64, int64) {
	return p.connections.Load(), p.flights.Load()
}

func (p *latencyProxy) serve(client, server *net.TCPConn) {
	var mu sync.Mutex
	heardBack := true // the next client chunk starts a flight
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		p.pipe(server, client, func() {
			mu.Lock()
			if heardBack {
				p.flights.Add(1)
				heardBack = false
			}
			mu.Unlock()
		})
	}()
	go func() {
		defer wg.Done()
		p.pipe(client, server, func() {
			mu.Lock()
			heardBack = true
			mu.Unlock()
		})
	}()
	wg.Wait()
	client.Close()
	server.Close()
}

// pipe copies src to dst, each chunk delivered oneWay after it was read;
// onRead runs as each chunk is read.
func (p *latencyProxy) pipe(dst, src *net.TCPConn, onRead func()) {
	type chunk struct {
		due  time.Time
		data []byte
	}
	queue := make(chan chunk, 4096)
	go func() {
		defer close(queue)
		for {
			buf := make([]byte, 32*1024)
			n, err := src.Read(buf)
			if n > 0 {
				onRead()
				queue <- chunk{time.Now().Add(p.oneWay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range queue {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.data); err != nil {
			io.Copy(io.Discard, src)
			break
		}
	}
	for range queue {
	}
	dst.CloseWrite()
}
