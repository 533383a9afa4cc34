package stack

// ExitedByItself reports whether the process has exited although nobody signalled it (a crash, a fatal
// error, a race report): the fault-injection suite counts that as a violation.
func (p *Proc) ExitedByItself() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil || p.stopping {
		return false
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Starts counts how often the process was started.
func (p *Proc) Starts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// Procs returns every process of the stack, workers included (dead ones too).
func (s *Stack) Procs() []*Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Proc
	for _, p := range append(append([]*Proc{s.NATS, s.Redis, s.Sandbox, s.Ingress}, s.NATSNodes...), s.RedisNodes...) {
		if p != nil {
			out = append(out, p)
		}
	}
	return append(out, s.Workers...)
}

// Exited is closed when the running process exits; nil before the first Start.
func (p *Proc) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}
