package snapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Format is a serialisation format for snapshots and plans.
type Format string

const (
	FormatYAML Format = "yaml"
	FormatJSON Format = "json"
)

// Marshal serialises a snapshot deterministically: lists are sorted (on a copy), map
// keys are sorted by the encoder, and nothing depends on the clock.
func Marshal(s *Snapshot, f Format) ([]byte, error) {
	c, err := s.DeepCopy()
	if err != nil {
		return nil, err
	}
	c.Sort()
	if c.APIVersion == "" {
		c.APIVersion = APIVersion
	}
	if c.Kind == "" {
		c.Kind = Kind
	}
	switch f {
	case FormatJSON:
		b, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encoding snapshot as JSON: %w", err)
		}
		return append(b, '\n'), nil
	case FormatYAML, "":
		b, err := yaml.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("encoding snapshot as YAML: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown snapshot format %q (want yaml or json)", f)
}

// Save writes a snapshot to path; the format follows the extension (.json → JSON,
// anything else YAML). The file is written whole or not at all.
func Save(path string, s *Snapshot) error {
	f := FormatYAML
	if len(path) > 5 && path[len(path)-5:] == ".json" {
		f = FormatJSON
	}
	b, err := Marshal(s, f)
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, b)
}

// WriteFileAtomic writes b to path through a temporary file and a rename, so a reader
// never sees half a file.
func WriteFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// LoadFile reads and validates a snapshot file.
func LoadFile(path string) (*Snapshot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading snapshot: %w", err)
	}
	s, err := Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", path, err)
	}
	return s, nil
}

// Load reads a snapshot from r (YAML or JSON) and validates it.
func Load(r io.Reader) (*Snapshot, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading snapshot: %w", err)
	}
	return Unmarshal(b)
}

// ErrInvalid wraps every error about the content of a snapshot document.
var ErrInvalid = errors.New("invalid snapshot")

// Unmarshal decodes a YAML or JSON snapshot strictly: an unknown apiVersion or kind,
// an unknown field or a wrong type is an error naming the field path, and the decoded
// snapshot is validated.
func Unmarshal(b []byte) (*Snapshot, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("%w: the document is empty", ErrInvalid)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("%w: not valid YAML or JSON: %v", ErrInvalid, err)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(j, &head); err != nil {
		return nil, fmt.Errorf("%w: the document is not an object: %v", ErrInvalid, err)
	}
	if head.APIVersion != APIVersion {
		return nil, fmt.Errorf("%w: apiVersion %q is not supported (this karpshift reads %s)", ErrInvalid, head.APIVersion, APIVersion)
	}
	if head.Kind != Kind {
		return nil, fmt.Errorf("%w: kind %q is not %s", ErrInvalid, head.Kind, Kind)
	}
	var s Snapshot
	strict, err := sigsjson.UnmarshalStrict(j, &s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(strict) > 0 {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, errors.Join(strict...))
	}
	if errs := Validate(&s); len(errs) > 0 {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, errs.ToAggregate())
	}
	return &s, nil
}
