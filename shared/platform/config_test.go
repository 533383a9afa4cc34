package platform_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smsconv/smsconv/shared/platform"
)

func loadQueue(tb testing.TB, environ []string) (platform.Queue, error) {
	tb.Helper()
	c, err := platform.Load(environ, platform.Defaults(time.Second))
	return c.Queue, err
}

func TestQueueTopologies(t *testing.T) {
	tests := []struct {
		name     string
		environ  []string
		servers  []string
		replicas int
		topology string
	}{
		{"defaults", nil, []string{"nats://127.0.0.1:4222"}, 1, "single"},
		{"nats cluster", []string{"NATS_URL=nats://a:4222, nats://b:4222,nats://c:4222", "NATS_REPLICAS=3"},
			[]string{"nats://a:4222", "nats://b:4222", "nats://c:4222"}, 3, "single"},
		{"redis cluster", []string{"REDIS_CLUSTER_ADDRS=r1:7000,r2:7001"}, []string{"nats://127.0.0.1:4222"}, 1, "cluster"},
		{"sentinel", []string{"REDIS_SENTINEL_ADDRS=s1:26379,s2:26379", "REDIS_SENTINEL_MASTER=mymaster"},
			[]string{"nats://127.0.0.1:4222"}, 1, "sentinel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := loadQueue(t, tt.environ)
			if err != nil {
				t.Fatal(err)
			}
			if got := q.NATSServers(); !slices.Equal(got, tt.servers) {
				t.Errorf("NATSServers() = %q, want %q", got, tt.servers)
			}
			if q.NATSReplicas != tt.replicas {
				t.Errorf("NATSReplicas = %d, want %d", q.NATSReplicas, tt.replicas)
			}
			if got := q.RedisTopology(); got != tt.topology {
				t.Errorf("RedisTopology() = %q, want %q", got, tt.topology)
			}
		})
	}
}

func TestQueueRefusesAmbiguousOrBrokenTopologies(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    string
	}{
		{"one bad server of several", []string{"NATS_URL=nats://a:4222,nowhere"}, `NATS_URL "nowhere"`},
		{"empty servers", []string{"NATS_URL= , "}, "NATS_URL is empty"},
		{"replicas zero", []string{"NATS_REPLICAS=0"}, "NATS_REPLICAS 0"},
		{"replicas past JetStream's limit", []string{"NATS_REPLICAS=7"}, "NATS_REPLICAS 7"},
		{"cluster and sentinel", []string{"REDIS_CLUSTER_ADDRS=a:1", "REDIS_SENTINEL_ADDRS=b:2", "REDIS_SENTINEL_MASTER=m"}, "both set"},
		{"sentinel without master", []string{"REDIS_SENTINEL_ADDRS=b:2"}, "needs REDIS_SENTINEL_MASTER"},
		{"master without sentinels", []string{"REDIS_SENTINEL_MASTER=m"}, "needs REDIS_SENTINEL_ADDRS"},
		{"cluster address without port", []string{"REDIS_CLUSTER_ADDRS=a:7000,b"}, `REDIS_CLUSTER_ADDRS "b"`},
		{"password of one server not echoed", []string{"NATS_URL=nats://a:4222,nats://u:hunter2@"}, "xxxxx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadQueue(t, tt.environ)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("err = %v shows the password", err)
			}
		})
	}
}
