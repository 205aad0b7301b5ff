// Package bench compares the throughput of karpshift's embedded provisioner
// (migrate/provision) with Karpenter's own scheduling benchmark.
//
// Its benchmarks (scheduling_test.go) mirror sigs.k8s.io/karpenter v1.15.0
// pkg/controllers/provisioning/scheduling/scheduling_benchmark_test.go: the same
// benchmark names, pod counts and pod mix (generic pods, zone and hostname topology
// spread, zone self-affinity, hostname anti-affinity, and the preference pods), the same
// 400 fake instance types (fake-it-N: N+1 vCPU, 2 GiB and 10 pods per vCPU, 100m/10Mi
// kube-reserved, prices from resources), one NodePool without requirements, and the
// same "pods/sec" metric. compare.sh runs both on the same machine and prints the ratio:
//
//	bash migrate/provision/bench/compare.sh
//
// The package holds no product code and imports only migrate/provision and its types.
package bench
