package fetch

import (
	"sync"
	"time"
)

// h1Pool keeps the fast path's idle connections, as net/http's Transport
// keeps its own: at most max per host:port and maxIdleTotal in all (the
// one idle longest closed to make room), each closed once it has been
// idle for ttl (IdleConnTimeout), and the most recently used handed out
// first.
type h1Pool struct {
	max int
	ttl time.Duration

	mu    sync.Mutex
	idle  map[string][]*h1Conn // by host:port; most recently used last
	n     int                  // connections in idle
	timer *time.Timer          // runs expire; made on the first put
	armed bool                 // timer is set to run, or running
}

// get takes an idle connection to addr, if there is a fresh one.
func (p *h1Pool) get(addr string) (*h1Conn, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cs := p.idle[addr]
	for len(cs) > 0 {
		c := cs[len(cs)-1]
		cs = cs[:len(cs)-1]
		p.setIdle(addr, cs)
		p.n--
		if time.Since(c.idleSince) < p.ttl {
			return c, true
		}
		c.nc.Close()
	}
	return nil, false
}

// put keeps c for another request to its host, or closes it when enough
// are kept already.
func (p *h1Pool) put(c *h1Conn) {
	p.mu.Lock()
	if p.idle == nil {
		p.idle = map[string][]*h1Conn{}
	}
	var evicted *h1Conn
	if cs := p.idle[c.key]; len(cs) < p.max {
		if p.n >= maxIdleTotal {
			evicted = p.removeOldest()
		}
		c.idleSince = time.Now()
		p.idle[c.key] = append(p.idle[c.key], c)
		p.n++
		p.arm(p.ttl)
		c = nil
	}
	p.mu.Unlock()
	for _, x := range []*h1Conn{c, evicted} {
		if x != nil {
			x.nc.Close()
		}
	}
}

// removeOldest takes out the connection idle longest, of any host. Caller
// holds p.mu. A scan, but only when the pool is full, and its hosts are
// at most maxIdleTotal.
func (p *h1Pool) removeOldest() *h1Conn {
	var key string
	var oldest *h1Conn
	for k, cs := range p.idle {
		if oldest == nil || cs[0].idleSince.Before(oldest.idleSince) {
			key, oldest = k, cs[0]
		}
	}
	if oldest != nil {
		p.setIdle(key, p.idle[key][1:])
		p.n--
	}
	return oldest
}

// expire closes the connections idle for ttl or longer, and comes back
// when the next one will be.
func (p *h1Pool) expire() {
	p.mu.Lock()
	p.armed = false
	var stale []*h1Conn
	now := time.Now()
	next := time.Duration(-1)
	for key, cs := range p.idle {
		// Oldest first: the stale ones are a prefix.
		i := 0
		for i < len(cs) && now.Sub(cs[i].idleSince) >= p.ttl {
			i++
		}
		stale = append(stale, cs[:i]...)
		p.n -= i
		p.setIdle(key, cs[i:])
		if i < len(cs) {
			if d := p.ttl - now.Sub(cs[i].idleSince); next < 0 || d < next {
				next = d
			}
		}
	}
	if p.n > 0 {
		p.arm(max(next, time.Millisecond))
	}
	p.mu.Unlock()
	for _, c := range stale {
		c.nc.Close()
	}
}

// arm makes expire run in d, unless it is due already. Caller holds p.mu.
func (p *h1Pool) arm(d time.Duration) {
	if p.armed {
		return
	}
	p.armed = true
	if p.timer == nil {
		p.timer = time.AfterFunc(d, p.expire)
		return
	}
	p.timer.Reset(d)
}

// setIdle stores cs as key's idle list, dropping the key when it is empty
// so that a pool of many hosts does not keep a key per host visited.
func (p *h1Pool) setIdle(key string, cs []*h1Conn) {
	if len(cs) == 0 {
		delete(p.idle, key)
		return
	}
	p.idle[key] = cs
}

// closeIdle closes every idle connection.
func (p *h1Pool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.n = nil, 0
	if p.timer != nil && p.timer.Stop() {
		p.armed = false
	}
	p.mu.Unlock()
	for _, cs := range idle {
		for _, c := range cs {
			c.nc.Close()
		}
	}
}

func (t *h1Transport) CloseIdleConnections() {
	t.pool.closeIdle()
	t.fallback.CloseIdleConnections()
}
