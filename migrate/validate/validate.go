package validate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/karpshift/karpshift/migrate/karpenter"
	"github.com/karpshift/karpshift/migrate/plan"
)

// Validator validates objects against the CRDs of one directory. It is safe for
// concurrent use once loaded.
type Validator struct {
	dir   string
	kinds map[schema.GroupVersionKind]*kindSchema
}

// kindSchema is one served version of one CRD, ready to validate.
type kindSchema struct {
	gvk        schema.GroupVersionKind
	structural *structuralschema.Structural
	openAPI    apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

// Load reads every CustomResourceDefinition in dir (*.yaml and *.yml, not recursive)
// and prepares a validator for each served version. It fails when the directory holds
// no NodePool or no EC2NodeClass CRD, or when a schema cannot be compiled.
func Load(dir string) (*Validator, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading CRD directory: %w", err)
	}
	v := &Validator{dir: dir, kinds: map[schema.GroupVersionKind]*kindSchema{}}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("reading CRD: %w", err)
		}
		if err := v.add(b); err != nil {
			return nil, fmt.Errorf("loading CRD %s: %w", filepath.Join(dir, name), err)
		}
	}
	for _, want := range []schema.GroupVersionKind{
		{Group: "karpenter.sh", Version: "v1", Kind: karpenter.NodePoolKind},
		{Group: karpenter.EC2NodeClassGroup, Version: "v1", Kind: karpenter.EC2NodeClassKind},
	} {
		if v.kinds[want] == nil {
			return nil, fmt.Errorf("CRD directory %s has no %s CRD serving %s", dir, want.Kind, want.GroupVersion())
		}
	}
	return v, nil
}

// Dir returns the directory the CRDs were read from.
func (v *Validator) Dir() string { return v.dir }

func (v *Validator) add(b []byte) error {
	var head struct {
		Kind string `json:"kind"`
	}
	if err := yaml.Unmarshal(b, &head); err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	if head.Kind != "CustomResourceDefinition" {
		return nil // not a CRD: ignore (README files are skipped by extension anyway)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(b, &crd); err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	for _, ver := range crd.Spec.Versions {
		if !ver.Served || ver.Schema == nil || ver.Schema.OpenAPIV3Schema == nil {
			continue
		}
		var internal apiextensionsinternal.JSONSchemaProps
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(ver.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
			return fmt.Errorf("converting the %s schema: %w", ver.Name, err)
		}
		ss, err := structuralschema.NewStructural(&internal)
		if err != nil {
			return fmt.Errorf("building the structural %s schema: %w", ver.Name, err)
		}
		sv, _, err := apiservervalidation.NewSchemaValidator(&internal)
		if err != nil {
			return fmt.Errorf("building the %s schema validator: %w", ver.Name, err)
		}
		gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: ver.Name, Kind: crd.Spec.Names.Kind}
		v.kinds[gvk] = &kindSchema{
			gvk:        gvk,
			structural: ss,
			openAPI:    sv,
			cel:        cel.NewValidator(ss, true, celconfig.PerCallLimit),
		}
	}
	return nil
}

// Validate checks one object the way the API server would on create (with strict field
// validation), then runs the controller's runtime checks. obj is a karpenter.NodePool,
// a karpenter.EC2NodeClass (or pointers to them), an *unstructured.Unstructured, a
// map[string]any, or YAML/JSON bytes. Defaults from the CRD are applied to a copy
// before validation; obj itself is never modified.
func (v *Validator) Validate(obj any) field.ErrorList {
	u, err := toUnstructured(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	apiVersion, _ := u["apiVersion"].(string)
	kind, _ := u["kind"].(string)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("apiVersion"), apiVersion, err.Error())}
	}
	ks := v.kinds[gv.WithKind(kind)]
	if ks == nil {
		return field.ErrorList{field.NotSupported(field.NewPath("kind"), apiVersion+", Kind="+kind, v.knownKinds())}
	}
	return ks.validate(u)
}

func (v *Validator) knownKinds() []string {
	var out []string
	for gvk := range v.kinds {
		out = append(out, gvk.GroupVersion().String()+", Kind="+gvk.Kind)
	}
	slices.Sort(out)
	return out
}

func (ks *kindSchema) validate(u map[string]any) field.ErrorList {
	var errs field.ErrorList
	// Strict field validation: fields the schema does not know are errors (kubectl's
	// default); the API server would otherwise drop them silently.
	for _, p := range pruning.PruneWithOptions(u, ks.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true}) {
		errs = append(errs, field.Forbidden(field.NewPath(p), "unknown field: not in this CRD's schema"))
	}
	defaulting.Default(u, ks.structural)
	errs = append(errs, validateMetadata(u)...)
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, u, ks.openAPI)...)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, ks.structural, u)...)
	if !hasTypeErrors(errs) {
		celErrs, _ := ks.cel.Validate(context.Background(), nil, ks.structural, u, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	switch ks.gvk.Kind {
	case karpenter.NodePoolKind:
		errs = append(errs, runtimeNodePool(u)...)
	case karpenter.EC2NodeClassKind:
		errs = append(errs, runtimeEC2NodeClass(u)...)
	}
	return errs
}

// hasTypeErrors mirrors the API server: CEL rules are not evaluated on an object whose
// values have the wrong types, because the rules would fail to compile against them.
func hasTypeErrors(errs field.ErrorList) bool {
	for _, e := range errs {
		if e.Type == field.ErrorTypeTypeInvalid {
			return true
		}
	}
	return false
}

func validateMetadata(u map[string]any) field.ErrorList {
	p := field.NewPath("metadata")
	md, ok := u["metadata"].(map[string]any)
	if !ok {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	name, _ := md["name"].(string)
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), "cluster-scoped objects need a name"))
	} else {
		for _, msg := range utilvalidation.IsDNS1123Subdomain(name) {
			errs = append(errs, field.Invalid(p.Child("name"), name, msg))
		}
	}
	for _, k := range []string{"labels", "annotations"} {
		m, _ := md[k].(map[string]any)
		for key, val := range m {
			for _, msg := range utilvalidation.IsQualifiedName(key) {
				errs = append(errs, field.Invalid(p.Child(k).Key(key), key, msg))
			}
			if s, _ := val.(string); k == "labels" {
				for _, msg := range utilvalidation.IsValidLabelValue(s) {
					errs = append(errs, field.Invalid(p.Child(k).Key(key), s, msg))
				}
			}
		}
	}
	return errs
}

// toUnstructured turns obj into a fresh JSON-shaped map (integers as int64, as the API
// server decodes them).
func toUnstructured(obj any) (map[string]any, error) {
	var b []byte
	var err error
	switch o := obj.(type) {
	case nil:
		return nil, errors.New("no object")
	case []byte:
		b, err = yaml.YAMLToJSON(o)
	case *unstructured.Unstructured:
		b, err = json.Marshal(o.Object)
	default:
		b, err = json.Marshal(o)
	}
	if err != nil {
		return nil, fmt.Errorf("encoding object: %w", err)
	}
	var u map[string]any
	if err := utiljson.Unmarshal(b, &u); err != nil {
		return nil, fmt.Errorf("decoding object: %w", err)
	}
	if u == nil {
		return nil, errors.New("the object is not a JSON object")
	}
	return u, nil
}

// ValidatePlan validates every NodePool and EC2NodeClass of a plan. Each error's field
// path starts with the object, e.g. nodePools[ng-a].spec.weight.
func (v *Validator) ValidatePlan(p *plan.Plan) field.ErrorList {
	var errs field.ErrorList
	for i := range p.EC2NodeClasses {
		errs = append(errs, prefix(field.NewPath("ec2NodeClasses").Key(p.EC2NodeClasses[i].Metadata.Name), v.Validate(&p.EC2NodeClasses[i]))...)
	}
	for i := range p.NodePools {
		errs = append(errs, prefix(field.NewPath("nodePools").Key(p.NodePools[i].Metadata.Name), v.Validate(&p.NodePools[i]))...)
	}
	return errs
}

func prefix(p *field.Path, errs field.ErrorList) field.ErrorList {
	for _, e := range errs {
		if e.Field == "" || e.Field == "<nil>" {
			e.Field = p.String()
		} else {
			e.Field = p.String() + "." + e.Field
		}
	}
	return errs
}
