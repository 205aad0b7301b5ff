package translate_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/karpshift/karpshift/inventory/snapshot"
	"github.com/karpshift/karpshift/migrate/plan"
	"github.com/karpshift/karpshift/migrate/translate"
)

func minimal() *snapshot.Snapshot {
	return &snapshot.Snapshot{
		APIVersion: snapshot.APIVersion, Kind: snapshot.Kind,
		Cluster: snapshot.Cluster{Name: "c", Version: "1.30", ClusterSecurityGroupID: "sg-1"},
		Groups: []snapshot.Group{{
			Name: "ng", Kind: snapshot.KindManaged,
			Nodegroup: &snapshot.Nodegroup{
				Name: "ng", AmiType: "AL2023_x86_64_STANDARD", ReleaseVersion: "1.30.0-20240625",
				InstanceTypes: []string{"m5.large"}, Subnets: []string{"subnet-1"}, NodeRole: "arn:aws:iam::1:role/r",
				Scaling: snapshot.ScalingConfig{MinSize: 0, MaxSize: 3, DesiredSize: 1},
			},
			Autoscaler: snapshot.GroupAutoscaler{InScope: true},
		}},
	}
}

// TestBrokenSnapshotsGiveFieldErrors feeds malformed and inconsistent snapshots to
// Translate: each must fail with an error that names the offending field, not panic.
func TestBrokenSnapshotsGiveFieldErrors(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*snapshot.Snapshot)
		want   string
		is     error
	}{
		{"no cluster name", func(s *snapshot.Snapshot) { s.Cluster.Name = "" }, "cluster.name", snapshot.ErrInvalid},
		{"max below min", func(s *snapshot.Snapshot) {
			s.Groups[0].Nodegroup.Scaling = snapshot.ScalingConfig{MinSize: 3, MaxSize: 1, DesiredSize: 1}
		},
			"groups[0].nodegroup.scalingConfig.maxSize", snapshot.ErrInvalid},
		{"managed group without its node group", func(s *snapshot.Snapshot) { s.Groups[0].Nodegroup = nil }, "groups[0].nodegroup", snapshot.ErrInvalid},
		{"unknown group kind", func(s *snapshot.Snapshot) { s.Groups[0].Kind = "fargate" }, "groups[0].kind", snapshot.ErrInvalid},
		{"bad taint effect", func(s *snapshot.Snapshot) {
			s.Groups[0].Nodegroup.Taints = []snapshot.NodegroupTaint{{Key: "a", Effect: "NoSchedule"}}
		}, "groups[0].nodegroup.taints[0].effect", snapshot.ErrInvalid},
		{"launch template missing", func(s *snapshot.Snapshot) {
			s.Groups[0].Nodegroup.LaunchTemplate = &snapshot.LaunchTemplateRef{ID: "lt-1", Version: "3"}
		}, "groups[0].nodegroup.launchTemplate", snapshot.ErrInvalid},
		{"launch template version missing", func(s *snapshot.Snapshot) {
			s.Groups[0].Nodegroup.LaunchTemplate = &snapshot.LaunchTemplateRef{ID: "lt-1", Version: "3"}
			s.LaunchTemplates = []snapshot.LaunchTemplate{{ID: "lt-1", Version: "2"}}
		}, "lt-1 version 3", snapshot.ErrInvalid},
		{"launch template ambiguous", func(s *snapshot.Snapshot) {
			s.Groups[0].Nodegroup.LaunchTemplate = &snapshot.LaunchTemplateRef{ID: "lt-1"}
			s.LaunchTemplates = []snapshot.LaunchTemplate{{ID: "lt-1", Version: "2", Requested: "$Default"}, {ID: "lt-1", Version: "3"}, {ID: "lt-1", Version: "4", Requested: ""}}
		}, "groups[0].nodegroup.launchTemplate", snapshot.ErrInvalid},
		{"mixed-instances template missing", func(s *snapshot.Snapshot) {
			s.Groups = append(s.Groups, snapshot.Group{Name: "asg", Kind: snapshot.KindSelfManaged, ASG: &snapshot.AutoScalingGroup{
				Name: "asg", MaxSize: 2, MixedInstancesPolicy: &snapshot.MixedInstancesPolicy{LaunchTemplate: snapshot.LaunchTemplateRef{Name: "web"}},
			}})
		}, "groups[1].asg.mixedInstancesPolicy.launchTemplate", snapshot.ErrInvalid},
		{"duplicate group", func(s *snapshot.Snapshot) { s.Groups = append(s.Groups, s.Groups[0]) }, "groups[1].name", snapshot.ErrInvalid},
		{"node in an unknown group", func(s *snapshot.Snapshot) { s.Nodes = []snapshot.Node{{Name: "n", Group: "ghost"}} }, "nodes[0].group", snapshot.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := minimal()
			tc.mutate(s)
			_, err := translate.Translate(s, translate.DefaultOptions())
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error does not name %s: %v", tc.want, err)
			}
			if !errors.Is(err, tc.is) {
				t.Fatalf("error does not wrap %v: %v", tc.is, err)
			}
		})
	}
	if _, err := translate.Translate(nil, translate.DefaultOptions()); !errors.Is(err, snapshot.ErrInvalid) {
		t.Errorf("nil snapshot: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	cases := []struct {
		name string
		o    func(*plan.Options)
		want string
	}{
		{"merge", func(o *plan.Options) { o.Merge = "all" }, "merge"},
		{"ami", func(o *plan.Options) { o.AMI = "newest" }, "ami"},
		{"version 2", func(o *plan.Options) { o.KarpenterVersion = "2.0" }, "karpenter-version"},
		{"version text", func(o *plan.Options) { o.KarpenterVersion = "latest" }, "karpenter-version"},
		{"freeze without duration", func(o *plan.Options) { o.FreezeSchedule = "0 9 * * 1-5" }, "freeze"},
		{"freeze with 4 fields", func(o *plan.Options) { o.FreezeSchedule, o.FreezeFor = "0 9 * *", "8h" }, "freeze"},
		{"freeze seconds", func(o *plan.Options) { o.FreezeSchedule, o.FreezeFor = "@daily", "90s" }, "freeze-for"},
		{"exclude and keep", func(o *plan.Options) { o.Exclude, o.Keep = []string{"ng"}, []string{"ng"} }, "both excluded and kept"},
		{"unknown exclude", func(o *plan.Options) { o.Exclude = []string{"nope"} }, `exclude "nope": no such group`},
		{"unknown keep", func(o *plan.Options) { o.Keep = []string{"nope"} }, `keep "nope": no such group`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := translate.DefaultOptions()
			tc.o(&o)
			_, err := translate.Translate(minimal(), o)
			if !errors.Is(err, translate.ErrOption) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an ErrOption naming %q", err, tc.want)
			}
		})
	}
}

func TestNormalizeOptions(t *testing.T) {
	o, err := translate.NormalizeOptions(plan.Options{KarpenterVersion: "v1.15.2", FreezeSchedule: " 0  9 * * 1-5 ", FreezeFor: "90m",
		Exclude: []string{"b", "a", "b"}, NodeRole: "arn:aws:iam::1:role/path/KarpenterNode"})
	if err != nil {
		t.Fatal(err)
	}
	want := plan.Options{Merge: "auto", AMI: "pinned", KarpenterVersion: "1.15", FreezeSchedule: "0 9 * * 1-5", FreezeFor: "1h30m",
		Exclude: []string{"a", "b"}, NodeRole: "KarpenterNode"}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("got %+v\nwant %+v", o, want)
	}
}

// mangle sets a random selection of pointers, strings, numbers and lists of the
// snapshot to their zero values.
func mangle(r *rand.Rand, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		if v.CanSet() && r.IntN(8) == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		mangle(r, v.Elem())
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				mangle(r, v.Field(i))
			}
		}
	case reflect.Slice:
		if v.CanSet() && r.IntN(10) == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		for i := 0; i < v.Len(); i++ {
			mangle(r, v.Index(i))
		}
	case reflect.String, reflect.Int, reflect.Int32, reflect.Int64, reflect.Float64, reflect.Bool:
		if v.CanSet() && r.IntN(6) == 0 {
			v.Set(reflect.Zero(v.Type()))
		}
	}
}

// TestMangledSnapshotsNeverPanic zeroes random fields of every fixture: Translate (and
// rendering) must return a plan or an error, never panic.
func TestMangledSnapshotsNeverPanic(t *testing.T) {
	for _, f := range fixtures(t) {
		for seed := uint64(0); seed < 40; seed++ {
			s, opts := f.load(t)
			mangle(rand.New(rand.NewPCG(seed, 1)), reflect.ValueOf(s))
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("%s seed %d: panic: %v", f.name, seed, r)
					}
				}()
				p, err := translate.Translate(s, opts)
				if err != nil {
					if !errors.Is(err, snapshot.ErrInvalid) && !errors.Is(err, translate.ErrOption) {
						t.Errorf("%s seed %d: error wraps neither ErrInvalid nor ErrOption: %v", f.name, seed, err)
					}
					return
				}
				if p == nil {
					t.Errorf("%s seed %d: nil plan without error", f.name, seed)
				}
				_ = fmt.Sprint(p.Findings)
			}()
		}
	}
}
