// Command karpshift moves an EKS cluster from Cluster Autoscaler to Karpenter v1:
// inventory, plan, simulate, migrate (cutover), rollback, runbook, demo.
//
// This is the only package that imports cobra and wires clients and flags.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
