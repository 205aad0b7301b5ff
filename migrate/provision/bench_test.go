package provision

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// BenchmarkSimulate100kPods500Types simulates 100,000 pods against 500 instance types
// (target: well under 10 s per run) and prints the peak memory.
func BenchmarkSimulate100kPods500Types(b *testing.B) {
	w := genWorld(100_000, 500, 1)
	in := Input{Snapshot: w.snap, Plan: w.plan, Catalog: w.cat}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	var p *Prediction
	for i := 0; i < b.N; i++ {
		var err error
		if p, err = Simulate(in, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	elapsed := b.Elapsed()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(100_000*b.N)/elapsed.Seconds(), "pods/s")
	fmt.Fprintf(os.Stderr, "simulate: %d pods, %d types -> %d new nodes, %d on existing, %d unschedulable; %.2fs/op; "+
		"heap sys %d MiB, total alloc %d MiB/op, peak RSS %s\n",
		p.PodsSimulated, len(w.cat.Types()), len(p.NewNodes), p.PodsOnExisting, len(p.Unschedulable),
		(elapsed / time.Duration(b.N)).Seconds(), after.HeapSys>>20, (after.TotalAlloc-before.TotalAlloc)>>20/uint64(b.N), peakRSS())
}

// peakRSS reads the process's high-water RSS (Linux), or "n/a".
func peakRSS() string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "n/a"
}
