// Command gen writes migrate/catalog/data/catalog.json, the embedded instance catalog.
// Run it through `go generate ./migrate/catalog` (from the repository root). It
//
//  1. starts moto_server on a free loopback port and reads every DescribeInstanceTypes
//     page through aws-sdk-go-v2's EC2 client, with Karpenter's filters, plus the
//     us-east-1 and us-west-2 offerings for the record;
//  2. downloads github.com/aws/karpenter-provider-aws (-karpenter-version) into the Go
//     module cache with `go mod download` under GOTOOLCHAIN=go1.27.3 and parses its
//     on-demand price tables (pkg/providers/pricing/zz_generated.*.go) with go/parser —
//     nothing of Karpenter is compiled or imported;
//  3. writes the catalog (sorted, deterministic) and data/NOTICE.
//
// Needs: moto_server on PATH (pip package moto, see e2e-stack.md §1), the Go module proxy.
// The output contains data only, never copied code.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/karpshift/karpshift/migrate/catalog/internal/catalogdata"
)

func main() {
	out := flag.String("out", "data/catalog.json", "catalog file to write; NOTICE is written beside it")
	motoBin := flag.String("moto-server", "moto_server", "moto_server executable")
	motoPython := flag.String("moto-python", "python3", "Python whose moto package runs moto_server (for its version)")
	motoVer := flag.String("moto-version", "", "moto version to record (default: ask -moto-python)")
	kVersion := flag.String("karpenter-version", "v1.15.2", "github.com/aws/karpenter-provider-aws version for the price tables")
	kDir := flag.String("karpenter-dir", "", "use this unpacked karpenter-provider-aws tree instead of downloading (version still recorded)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("catalog gen: ")
	if err := run(context.Background(), *out, *motoBin, *motoPython, *motoVer, *kVersion, *kDir); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out, motoBin, motoPython, motoVer, kVersion, kDir string) error {
	in := inputs{KarpenterVersion: kVersion, SDKVersion: depVersion("github.com/aws/aws-sdk-go-v2/service/ec2")}

	if motoVer == "" {
		v, err := motoVersion(ctx, motoPython)
		if err != nil {
			return err
		}
		motoVer = v
	}
	in.MotoVersion = motoVer

	m, err := startMoto(ctx, motoBin)
	if err != nil {
		return err
	}
	defer m.stop()
	log.Printf("moto %s on %s", motoVer, m.url)
	in.Infos, err = describeAll(ctx, m.client("us-east-1"), nil)
	if err != nil {
		return err
	}
	in.Offered = map[string]map[string]bool{}
	for _, region := range []string{"us-east-1", "us-west-2"} {
		o, err := offered(ctx, m.client(region))
		if err != nil {
			return err
		}
		in.Offered[region] = o
	}
	log.Printf("%d instance types described", len(in.Infos))

	if kDir == "" {
		mod, err := downloadModule(ctx, karpenterModule, kVersion)
		if err != nil {
			return err
		}
		kDir, in.KarpenterSum = mod.Dir, mod.Sum
	}
	notice, err := os.ReadFile(filepath.Join(kDir, "NOTICE"))
	if err != nil {
		return fmt.Errorf("reading Karpenter's NOTICE: %w", err)
	}
	in.KarpenterNotice = string(notice)
	for _, rel := range karpenterPriceFiles {
		t, err := parsePriceFile(filepath.Join(kDir, filepath.FromSlash(rel)), rel)
		if err != nil {
			return err
		}
		in.Tables = append(in.Tables, t)
	}

	f, err := build(in)
	if err != nil {
		return err
	}
	data, err := catalogdata.Encode(f)
	if err != nil {
		return err
	}
	if err := writeFile(out, data); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(filepath.Dir(out), "NOTICE"), []byte(noticeFile(in))); err != nil {
		return err
	}
	log.Printf("wrote %s: %d types, %d bytes", out, len(f.Types), len(data))
	return nil
}

// noticeFile is data/NOTICE: the attribution for the derived data, with Karpenter's
// NOTICE text as its license asks.
func noticeFile(in inputs) string {
	var b strings.Builder
	b.WriteString("migrate/catalog/data/catalog.json is data derived from two Apache-2.0 projects\n")
	b.WriteString("(http://www.apache.org/licenses/LICENSE-2.0); it contains no source code of either.\n\n")
	fmt.Fprintf(&b, "Instance specifications: moto %s, https://github.com/getmoto/moto\n", in.MotoVersion)
	b.WriteString("(DescribeInstanceTypes answers of moto_server), Apache License 2.0.\n\n")
	fmt.Fprintf(&b, "On-demand prices: %s %s, Apache License 2.0\n", karpenterModule, in.KarpenterVersion)
	for _, t := range in.Tables {
		fmt.Fprintf(&b, "  %s (generated at %s)\n", t.File, t.GeneratedAt)
	}
	b.WriteString("Its NOTICE reads:\n\n")
	b.WriteString(strings.TrimSpace(in.KarpenterNotice))
	b.WriteString("\n")
	return b.String()
}

func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// depVersion is the version of a module linked into this generator.
func depVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			return d.Version
		}
	}
	return ""
}
