package status

import (
	"context"
	"testing"
)

// BenchmarkGatherHealthy measures one status of a healthy host with every
// probe real but the API (a fake clientset) and systemd (the fake): the
// journal, the file hashes, the containerd gRPC call, the kubelet /healthz
// and `kubelet --version` (a script here).
func BenchmarkGatherHealthy(b *testing.B) {
	h := newHost(b)
	d := h.deps()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Gather(context.Background(), d); err != nil {
			b.Fatal(err)
		}
	}
}
