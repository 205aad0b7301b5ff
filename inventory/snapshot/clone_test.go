package snapshot

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// filler sets every field of a value by reflection, so that a field added to a snapshot
// type (or to a Kubernetes type it embeds) and forgotten in clone.go makes
// TestCloneIsJSONRoundTrip fail.
type filler struct {
	t     *testing.T
	empty bool // empty strings, zero numbers, empty non-nil lists and maps
	n     int
}

var (
	quantityType = reflect.TypeFor[resource.Quantity]()
	timeType     = reflect.TypeFor[metav1.Time]()
	intstrType   = reflect.TypeFor[intstr.IntOrString]()
)

func (f *filler) fill(v reflect.Value, path string) {
	f.n++
	switch v.Type() {
	case quantityType:
		if !f.empty {
			// A non-canonical form: JSON gives back "1", a different representation.
			v.Set(reflect.ValueOf([]resource.Quantity{resource.MustParse("1000m"), resource.MustParse("1.5Gi")}[f.n%2]))
		}
		return
	case timeType:
		if !f.empty {
			// Sub-second and not local: JSON keeps whole seconds in the local zone.
			v.Set(reflect.ValueOf(metav1.NewTime(time.Date(2025, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600)))))
		}
		return
	case intstrType:
		if !f.empty {
			if f.n%2 == 0 {
				v.Set(reflect.ValueOf(intstr.IntOrString{Type: intstr.String, IntVal: 3, StrVal: "50%\xff"}))
			} else {
				v.Set(reflect.ValueOf(intstr.IntOrString{Type: intstr.Int, IntVal: 3, StrVal: "junk"}))
			}
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		if !f.empty {
			// Not valid UTF-8: JSON turns the byte into U+FFFD.
			v.SetString(fmt.Sprintf("%s\xff%d", path, f.n))
		}
	case reflect.Bool:
		v.SetBool(!f.empty)
	case reflect.Int, reflect.Int32, reflect.Int64:
		if !f.empty {
			v.SetInt(int64(f.n))
		}
	case reflect.Float64:
		if !f.empty {
			v.SetFloat(float64(f.n) + 0.25)
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(v.Elem(), path)
	case reflect.Slice:
		n := 2
		if f.empty {
			n = 0
		}
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			f.fill(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		if f.empty {
			return
		}
		for i := range 2 {
			k := reflect.New(v.Type().Key()).Elem()
			f.fill(k, fmt.Sprintf("%s.key%d", path, i))
			e := reflect.New(v.Type().Elem()).Elem()
			f.fill(e, fmt.Sprintf("%s[%d]", path, i))
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			sf := v.Type().Field(i)
			if !sf.IsExported() {
				f.t.Fatalf("%s: %s has unexported field %s: teach the filler and clone.go about it", path, v.Type(), sf.Name)
			}
			f.fill(v.Field(i), path+"."+sf.Name)
		}
	default:
		f.t.Fatalf("%s: cannot fill a %s", path, v.Type())
	}
}

func roundTrip(t *testing.T, s *Snapshot) *Snapshot {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var c Snapshot
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return &c
}

// compare reports where got differs from want and where got shares memory with orig.
func compare(t *testing.T, orig, got, want reflect.Value, path string) {
	t.Helper()
	switch got.Type() {
	case quantityType, timeType:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			t.Errorf("%s: got %v, JSON gives %v", path, got.Interface(), want.Interface())
		}
		return
	}
	switch got.Kind() {
	case reflect.Pointer:
		if got.IsNil() != want.IsNil() {
			t.Errorf("%s: nil %v, JSON gives nil %v", path, got.IsNil(), want.IsNil())
			return
		}
		if got.IsNil() {
			return
		}
		if !orig.IsNil() && got.Pointer() == orig.Pointer() {
			t.Errorf("%s: pointer shared with the original", path)
		}
		compare(t, orig.Elem(), got.Elem(), want.Elem(), path)
	case reflect.Slice:
		if got.IsNil() != want.IsNil() || got.Len() != want.Len() {
			t.Errorf("%s: nil %v len %d, JSON gives nil %v len %d", path, got.IsNil(), got.Len(), want.IsNil(), want.Len())
			return
		}
		if got.Len() > 0 && got.Pointer() == orig.Pointer() {
			t.Errorf("%s: slice shared with the original", path)
		}
		for i := range got.Len() {
			compare(t, orig.Index(i), got.Index(i), want.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		if got.IsNil() != want.IsNil() || !reflect.DeepEqual(got.Interface(), want.Interface()) {
			t.Errorf("%s: got %#v, JSON gives %#v", path, got.Interface(), want.Interface())
			return
		}
		if !got.IsNil() && got.Pointer() == orig.Pointer() {
			t.Errorf("%s: map shared with the original", path)
		}
		if got.Type().Elem().Kind() == reflect.Slice {
			for _, k := range got.MapKeys() {
				if g, o := got.MapIndex(k), orig.MapIndex(k); g.Len() > 0 && o.IsValid() && g.Pointer() == o.Pointer() {
					t.Errorf("%s[%v]: slice shared with the original", path, k)
				}
			}
		}
	case reflect.Struct:
		for i := range got.NumField() {
			compare(t, orig.Field(i), got.Field(i), want.Field(i), path+"."+got.Type().Field(i).Name)
		}
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			t.Errorf("%s: got %#v, JSON gives %#v", path, got.Interface(), want.Interface())
		}
	}
}

// TestCloneIsJSONRoundTrip fills every field of a snapshot, down into the Kubernetes
// types, and checks that Clone gives what the JSON round trip it replaced gave, without
// sharing a pointer, list or map with the original.
func TestCloneIsJSONRoundTrip(t *testing.T) {
	for _, empty := range []bool{false, true} {
		t.Run(fmt.Sprintf("empty=%v", empty), func(t *testing.T) {
			var s Snapshot
			f := &filler{t: t, empty: empty}
			f.fill(reflect.ValueOf(&s).Elem(), "snapshot")
			want := roundTrip(t, &s)
			got := s.Clone()
			compare(t, reflect.ValueOf(&s).Elem(), reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem(), "snapshot")
			if !empty && !reflect.DeepEqual(got, want) {
				t.Error("Clone differs from the JSON round trip (see above)")
			}
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(want)
			if string(gb) != string(wb) {
				t.Errorf("Clone serialises differently from the JSON round trip:\n%s\n%s", gb, wb)
			}
		})
	}
}

func TestDeepCopyRejectsWhatJSONRejects(t *testing.T) {
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		for _, s := range []*Snapshot{
			{InstanceTypes: []InstanceType{{Name: "a"}, {Name: "b", SpotPrice: f}}},
			{Autoscaler: &Autoscaler{Flags: CAFlags{ScaleDownGPUUtilizationThreshold: f}}},
		} {
			_, jerr := json.Marshal(s)
			_, err := s.DeepCopy()
			if err == nil || jerr == nil || err.Error() != "copying snapshot: "+jerr.Error() {
				t.Errorf("%v: DeepCopy error %v, JSON error %v", f, err, jerr)
			}
		}
	}
	if _, err := (&Snapshot{InstanceTypes: []InstanceType{{Name: "a", OnDemandPrice: 0.1}}}).DeepCopy(); err != nil {
		t.Error(err)
	}
}

func TestStrMatchesJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "é", "a\xffb", "\xff\xfe", "\xe2\x82", "x\xe2\x82\xacy", "\xed\xa0\x80"} {
		b, _ := json.Marshal(s)
		var want string
		_ = json.Unmarshal(b, &want)
		if got := str(s); got != want {
			t.Errorf("str(%q) = %q, JSON gives %q", s, got, want)
		}
	}
	if !strings.Contains(str("a\xff"), "\uFFFD") {
		t.Error("no replacement character")
	}
}
