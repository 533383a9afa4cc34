package stack

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// ErrNotRunning is returned for statistics of a process that is not running.
var ErrNotRunning = errors.New("process not running")

// clockTick is the unit of the CPU times in /proc/<pid>/stat: USER_HZ, 100 on every Linux ABI Go runs on
// (it is fixed for user space, unlike the kernel's HZ).
const clockTick = 10 * time.Millisecond

// PID returns the process id of the running process, 0 when it is not running.
func (p *Proc) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil || p.done == nil {
		return 0
	}
	select {
	case <-p.done:
		return 0
	default:
		return p.cmd.Process.Pid
	}
}

// CPUTime returns the CPU time (user + system) the running process and the children it has reaped have used
// so far, read from /proc/<pid>/stat with a resolution of 10 ms. The children count because they are the
// process's work: Redis forks one to rewrite its append-only file, and its CPU is the price of durability.
// A child's time is added when it is reaped, all at once.
func (p *Proc) CPUTime() (time.Duration, error) {
	pid := p.PID()
	if pid == 0 {
		return 0, fmt.Errorf("%s: %w", p.Name, ErrNotRunning)
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("cpu time of %s: %w", p.Name, err)
	}
	return parseStatCPU(raw, true)
}

// PIDCPUTime returns the CPU time (user + system) process pid has used itself, from /proc/<pid>/stat.
func PIDCPUTime(pid int) (time.Duration, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("cpu time of %d: %w", pid, err)
	}
	return parseStatCPU(raw, false)
}

// parseStatCPU reads utime and stime (fields 14 and 15) from the contents of /proc/<pid>/stat, and with
// children cutime and cstime too (16 and 17: the reaped children's). The command name (field 2) is in
// parentheses and may itself hold spaces and parentheses, so fields are counted from the last ')'.
func parseStatCPU(stat []byte, children bool) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc stat: no command name in %q", stat)
	}
	f := bytes.Fields(stat[i+1:])
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 15 {
		return 0, fmt.Errorf("parse /proc stat: %d fields after the command name", len(f))
	}
	last := 12
	if children {
		last = 14
	}
	var ticks int64
	for _, field := range f[11 : last+1] {
		n, err := strconv.ParseInt(string(field), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}
