package load

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/smsconv/smsconv/e2e/internal/stack"
	"github.com/smsconv/smsconv/shared/events"
)

// Machine describes where the figures were measured.
type Machine struct {
	CPU       string `json:"cpu"`
	Cores     int    `json:"cores"`
	MemoryGiB int    `json:"memory_gib"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go"`
	OS        string `json:"os"`
	// LoadAvg and LoadAvgEnd are /proc/loadavg when the run started and ended: other work on the machine
	// skews every figure, and with 2 cores a load average above 2 means something else competed for them.
	LoadAvg    string `json:"load_avg_at_start"`
	LoadAvgEnd string `json:"load_avg_at_end"`
}

// String is the one-line description printed above the figures.
func (m Machine) String() string {
	return fmt.Sprintf("%s, %d cores, %d GiB, Linux %s, %s", m.CPU, m.Cores, m.MemoryGiB, m.Kernel, m.GoVersion)
}

func machine() Machine {
	m := Machine{CPU: "unknown", Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		m.CPU = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		kb, _ := strconv.Atoi(strings.TrimSuffix(v, " kB"))
		m.MemoryGiB = (kb + 1<<19) >> 20
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.LoadAvg = loadAvg()
	return m
}

// loadAvg is the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(b)); len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}

// procField returns the value of the first "name: value" line of a /proc file.
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// verifyCost measures one ed25519.Verify of a webhook-sized message on this machine, now, the way the
// ingress calls it: the floor a verifying ingress cannot go below.
func verifyCost(body []byte) time.Duration {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := append([]byte(strconv.FormatInt(time.Now().Unix(), 10)+"|"), body...)
	sig := ed25519.Sign(priv, msg)
	r := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("signature does not verify")
			}
		}
	})
	return time.Duration(r.NsPerOp())
}

// cpuSnapshot is the CPU time used so far by each process of the stack and by this process, plus two
// entries that are not processes: keyMachine, the busy time of the whole machine (every core, every
// process), and keyWall, a monotonic clock reading.
type cpuSnapshot map[string]time.Duration

// Process names in CPU figures.
const (
	procIngress   = "ingress"
	procWorkers   = "workers"
	procNATS      = "nats"
	procRedis     = "redis"
	procSandbox   = "sandbox"
	procGenerator = "loadgen"
	procVerifier  = "verifier" // the ingress's floor (naive.Verifier)

	keyMachine = "_machine"
	keyWall    = "_wall"
)

var epoch = time.Now()

func snapshotCPU(s *stack.Stack) cpuSnapshot {
	c := snapshotProcs(map[string]*stack.Proc{procIngress: s.Ingress, procNATS: s.NATS, procRedis: s.Redis, procSandbox: s.Sandbox})
	for _, w := range s.LiveWorkers() {
		if d, err := w.CPUTime(); err == nil {
			c[procWorkers] += d
		}
	}
	return c
}

// snapshotProcs is the CPU time of the processes ps and of this one, with the machine's busy time.
func snapshotProcs(ps map[string]*stack.Proc) cpuSnapshot {
	c := cpuSnapshot{keyWall: time.Since(epoch)}
	for name, p := range ps {
		if d, err := p.CPUTime(); err == nil {
			c[name] = d
		}
	}
	if d, err := stack.PIDCPUTime(os.Getpid()); err == nil {
		c[procGenerator] = d
	}
	if d, err := machineBusy(); err == nil {
		c[keyMachine] = d
	}
	return c
}

// machineBusy is the CPU time all cores spent busy since boot, from the first line of /proc/stat (user,
// nice, system, irq, softirq and steal; idle and iowait left out), in USER_HZ ticks of 10 ms.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("parse /proc/stat: %q", line)
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc/stat: %w", err)
		}
		ticks += v
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// perMessage is the CPU each process used between two snapshots, in µs per message.
func perMessage(before, after cpuSnapshot, n int) map[string]float64 {
	out := map[string]float64{}
	if n == 0 {
		return out
	}
	for k, a := range after {
		if !strings.HasPrefix(k, "_") {
			out[k] = round(us(a-before[k])/float64(n), 1)
		}
	}
	return out
}

// otherCores is how many cores, on average between two snapshots, went to processes that are neither the
// stack's nor the generator's: other work competing with the measurement.
func otherCores(before, after cpuSnapshot) float64 {
	wall := after[keyWall] - before[keyWall]
	if wall <= 0 || after[keyMachine] == 0 {
		return 0
	}
	other := after[keyMachine] - before[keyMachine]
	for k, a := range after {
		if !strings.HasPrefix(k, "_") {
			other -= a - before[k]
		}
	}
	return round(math.Max(0, other.Seconds()/wall.Seconds()), 2)
}

// redisStats are the counters read from INFO.
type redisStats struct {
	// reads is total_reads_processed: read events on client sockets, one per request or pipeline a client
	// sends, so a good count of round trips.
	reads int64
	// calls is the number of calls per command (commands run inside Lua scripts included).
	calls map[string]int64
}

func readRedisStats(ctx context.Context, rdb *redis.Client) (redisStats, error) {
	info, err := rdb.Info(ctx, "stats", "commandstats").Result()
	if err != nil {
		return redisStats{}, fmt.Errorf("redis info: %w", err)
	}
	return parseRedisInfo(info), nil
}

// parseRedisInfo reads total_reads_processed and the cmdstat_ lines of an INFO answer.
func parseRedisInfo(info string) redisStats {
	st := redisStats{calls: map[string]int64{}}
	for line := range strings.SplitSeq(info, "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "total_reads_processed:"); ok {
			st.reads, _ = strconv.ParseInt(v, 10, 64)
		}
		// cmdstat_hgetall:calls=2,usec=6,...
		name, rest, ok := strings.Cut(line, ":")
		cmd, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		for kv := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				st.calls[cmd], _ = strconv.ParseInt(v, 10, 64)
			}
		}
	}
	return st
}

// redisPerMessage turns two INFO readings into round trips and commands per message. The harness's own INFO
// calls (one read, one command each) are left out.
func redisPerMessage(before, after redisStats, n int) (reads, commands float64, byCmd map[string]float64) {
	if n == 0 {
		return 0, 0, nil
	}
	byCmd = map[string]float64{}
	var total int64
	for cmd, a := range after.calls {
		d := a - before.calls[cmd]
		if cmd == "info" {
			d--
		}
		if d <= 0 {
			continue
		}
		total += d
		byCmd[cmd] = round(float64(d)/float64(n), 3)
	}
	return round(float64(after.reads-before.reads-1)/float64(n), 3), round(float64(total)/float64(n), 3), byCmd
}

// backlog is the number of conversation messages not yet acknowledged by a worker (the stream is a work
// queue: an acknowledged message is removed).
func backlog(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	st, err := js.Stream(ctx, events.StreamConversations)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

// waitDrained waits until the workers have acknowledged every conversation message, or timeout passes.
func waitDrained(ctx context.Context, js jetstream.JetStream, timeout time.Duration) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		n, err := backlog(ctx, js)
		if err == nil && n == 0 {
			return 0, nil
		}
		select {
		case <-ctx.Done():
			return n, fmt.Errorf("%d messages still queued after %s", n, timeout)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func connectNATS(url string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url, nats.Name("loadgen"))
	if err != nil {
		return nil, nil, fmt.Errorf("connect nats: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// resetSandbox empties the fake Telnyx's record of sent messages (its configured faults stay).
func resetSandbox(ctx context.Context, c *stack.Client, sandboxURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, sandboxURL+"/sandbox/messages", nil)
	if err != nil {
		return err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("reset sandbox: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("reset sandbox: status %d", resp.StatusCode)
	}
	return nil
}
